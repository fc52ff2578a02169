//! Unmasking client payloads in place (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: byte `i` of the payload is XORed
//! with byte `i % 4` of the frame's four-byte masking key. Unmasking is the
//! same XOR. A payload arrives in pieces, so each piece is unmasked with
//! the key rotated by its offset in the payload.
//!
//! [`unmask`] works a `u64` at a time in safe code: bytes up to the first
//! 8-byte-aligned address one at a time, then aligned words XORed with the
//! key repeated twice and rotated to the phase reached, then the last few
//! bytes. Eight is a multiple of four, so the phase is the same for every
//! word.

/// XORs `data` in place with `key`, as the payload bytes that follow the
/// first `offset` bytes of the payload (only `offset % 4` matters).
/// Masking and unmasking are the same operation.
///
/// ```
/// use peregrine_core::ws::unmask;
///
/// // RFC 6455 §5.7: a masked "Hello".
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"\x7f\x9f\x4d\x51\x58";
/// unmask(&mut payload, key, 0);
/// assert_eq!(&payload, b"Hello");
///
/// // The same payload unmasked in two pieces.
/// let mut payload = *b"\x7f\x9f\x4d\x51\x58";
/// let (first, second) = payload.split_at_mut(3);
/// unmask(first, key, 0);
/// unmask(second, key, 3);
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn unmask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut phase = offset % 4;
    let head = data.as_ptr().align_offset(8).min(data.len());
    let (head, rest) = data.split_at_mut(head);
    for byte in head {
        *byte ^= key[phase];
        phase = (phase + 1) % 4;
    }
    let mut rotated = [0; 8];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = key[(phase + i) % 4];
    }
    let word_key = u64::from_ne_bytes(rotated);
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        // Always eight bytes: the conversion cannot fail, and compiles away.
        if let Ok(word) = <&mut [u8; 8]>::try_from(word) {
            *word = (u64::from_ne_bytes(*word) ^ word_key).to_ne_bytes();
        }
    }
    for (byte, key) in words.into_remainder().iter_mut().zip(rotated) {
        *byte ^= key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// The byte-at-a-time definition of RFC 6455 §5.3.
    fn unmask_bytewise(data: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in data.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    /// Every start address modulo 8, every length up to 300 and every
    /// phase of the key: the word-wise loop agrees with the definition.
    #[test]
    fn agrees_with_the_definition_everywhere() {
        let key = [0x12, 0x34, 0xa5, 0xff];
        let source: Vec<u8> = (0..320u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in 0..=300 {
                for offset in 0..4 {
                    let mut fast = source.clone();
                    let mut slow = source.clone();
                    unmask(&mut fast[start..start + len], key, offset);
                    unmask_bytewise(&mut slow[start..start + len], key, offset);
                    assert_eq!(fast, slow, "start {start}, len {len}, offset {offset}");
                }
            }
        }
    }

    /// Offsets are taken modulo 4, whatever their size.
    #[test]
    fn large_offsets() {
        let key = [1, 2, 3, 4];
        for offset in [4, 5, 1 << 20, usize::MAX] {
            let mut a = [0u8; 13];
            let mut b = [0u8; 13];
            unmask(&mut a, key, offset);
            unmask_bytewise(&mut b, key, offset % 4);
            assert_eq!(a, b, "offset {offset}");
        }
    }

    /// Masking twice restores the payload.
    #[test]
    fn involution() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let original: Vec<u8> = (0..=255).collect();
        let mut data = original.clone();
        unmask(&mut data, key, 1);
        assert_ne!(data, original);
        unmask(&mut data, key, 1);
        assert_eq!(data, original);
    }
}
