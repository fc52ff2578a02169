//! TLS record protection after the handshake, in place: the AEAD cipher
//! suites rustls negotiates (AES-128-GCM, AES-256-GCM and
//! ChaCha20-Poly1305, in TLS 1.3 and 1.2), with *ring*'s AEAD, sealing
//! and opening records where they lie in a connection's record buffers.
//!
//! rustls makes the keys (its handshake, then `KernelConnection` for the
//! traffic secrets and their updates); this module only frames, seals and
//! opens, as RFC 8446 §5.2 (TLS 1.3), RFC 5288 (TLS 1.2 AES-GCM) and RFC
//! 7905 (TLS 1.2 ChaCha20-Poly1305) say.

use std::io::{self, ErrorKind};
use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::ConnectionTrafficSecrets;

use super::alert::TlsError;

/// A record's header: type, legacy version, length.
pub(super) const HEADER: usize = 5;
/// The most plaintext one record carries (2¹⁴ bytes).
pub(super) const MAX_PLAINTEXT: usize = 16 * 1024;
/// The longest record payload a peer may send: TLS 1.3's limit (2¹⁴ +
/// 256); TLS 1.2's AEAD records are shorter (at most 2¹⁴ + 24).
pub(super) const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;
/// The longest record on the wire, header included.
pub(super) const MAX_RECORD: usize = HEADER + MAX_CIPHERTEXT;
/// An AEAD tag.
const TAG: usize = 16;
/// TLS 1.2 AES-GCM's explicit nonce, sent before the ciphertext.
const EXPLICIT_NONCE: usize = 8;

/// `alert`.
pub(super) const ALERT: u8 = 21;
/// `handshake`.
pub(super) const HANDSHAKE: u8 = 22;
/// `application_data`.
pub(super) const APPLICATION_DATA: u8 = 23;

/// How a protocol version and cipher suite lay a record out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// TLS 1.3: the content type sealed after the plaintext, the header
    /// as additional data.
    Tls13,
    /// TLS 1.2 AES-GCM: an explicit nonce before the ciphertext.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305: no explicit nonce.
    Tls12Chacha,
}

impl Shape {
    /// The bytes between the header and the plaintext.
    #[inline]
    pub(super) const fn prefix(self) -> usize {
        match self {
            Shape::Tls12Gcm => EXPLICIT_NONCE,
            Shape::Tls13 | Shape::Tls12Chacha => 0,
        }
    }

    /// The bytes after the plaintext: the tag, and in TLS 1.3 the content
    /// type before it.
    #[inline]
    pub(super) const fn suffix(self) -> usize {
        match self {
            Shape::Tls13 => 1 + TAG,
            Shape::Tls12Gcm | Shape::Tls12Chacha => TAG,
        }
    }

    /// What a record adds to its plaintext, header included.
    #[inline]
    pub(super) const fn overhead(self) -> usize {
        HEADER + self.prefix() + self.suffix()
    }
}

/// One direction's key, the IV its nonces are made from, and the
/// sequence number of its next record.
pub(super) struct Keys {
    /// The AEAD key.
    key: LessSafeKey,
    /// The IV (TLS 1.2 AES-GCM: the 4-byte salt, then the 8 bytes the
    /// explicit nonces start from).
    iv: [u8; aead::NONCE_LEN],
    /// The next record's sequence number.
    seq: u64,
}

impl Keys {
    /// Keys from rustls' traffic secrets, starting at sequence number
    /// `seq`.
    ///
    /// # Errors
    ///
    /// For an AEAD rustls names that this module does not know.
    pub(super) fn new(seq: u64, secrets: &ConnectionTrafficSecrets) -> io::Result<Keys> {
        let (algorithm, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return Err(io::Error::other("a TLS cipher suite not supported here")),
        };
        Keys::with(algorithm, key.as_ref(), iv.as_ref(), seq)
    }

    /// Keys for `algorithm` from the raw `key` and `iv`.
    pub(super) fn with(
        algorithm: &'static aead::Algorithm,
        key: &[u8],
        iv: &[u8],
        seq: u64,
    ) -> io::Result<Keys> {
        let key = UnboundKey::new(algorithm, key)
            .map_err(|_| io::Error::other("a TLS key of the wrong length"))?;
        let iv = iv
            .try_into()
            .map_err(|_| io::Error::other("a TLS IV of the wrong length"))?;
        Ok(Keys {
            key: LessSafeKey::new(key),
            iv,
            seq,
        })
    }

    /// The sequence number of the next record.
    #[inline]
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// The nonce for the next record: the IV with the sequence number
    /// XORed into its last 8 bytes (RFC 8446 §5.3; rustls makes TLS 1.2's
    /// explicit nonces the same way).
    #[inline]
    fn nonce(&self) -> [u8; aead::NONCE_LEN] {
        let mut nonce = self.iv;
        for (byte, seq) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *byte ^= seq;
        }
        nonce
    }

    /// Sets the next record's sequence number (tests: a key near its
    /// limit).
    #[cfg(test)]
    pub(super) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Moves on to the next sequence number; `None` once they are
    /// exhausted (RFC 8446 §5.3: they never wrap), and the key then seals
    /// and opens no more.
    #[inline]
    fn advance(&mut self) -> Option<()> {
        self.seq = self.seq.checked_add(1)?;
        Some(())
    }
}

/// TLS 1.2's additional data: sequence number, type, version (as the
/// record's header gives it: a record whose version was altered does not
/// authenticate), length.
#[inline]
fn tls12_aad(seq: u64, typ: u8, version: [u8; 2], len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = typ;
    aad[9..11].copy_from_slice(&version);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

/// Seals the `len` bytes of plaintext of type `typ` that lie at
/// `out[HEADER + shape.prefix()..]` into a record starting at `out[0]`,
/// in place; the record's length. `out` must hold the record
/// (`len + shape.overhead()` bytes) and `len` be at most
/// [`MAX_PLAINTEXT`].
pub(super) fn seal(
    shape: Shape,
    keys: &mut Keys,
    typ: u8,
    out: &mut [u8],
    len: usize,
) -> io::Result<usize> {
    debug_assert!(len <= MAX_PLAINTEXT);
    seal_any(shape, keys, typ, out, len)
}

/// [`seal`] for any length that fits a record's length field: a peer
/// breaking the limit, in tests and fuzzing.
pub(super) fn seal_any(
    shape: Shape,
    keys: &mut Keys,
    typ: u8,
    out: &mut [u8],
    len: usize,
) -> io::Result<usize> {
    let total = len + shape.overhead();
    let payload = total - HEADER;
    let out = &mut out[..total];
    let nonce = keys.nonce();
    let (header, body) = out.split_at_mut(HEADER);
    header[0] = if shape == Shape::Tls13 {
        APPLICATION_DATA
    } else {
        typ
    };
    header[1..3].copy_from_slice(&[3, 3]);
    header[3..5].copy_from_slice(&(payload as u16).to_be_bytes());
    let tag = match shape {
        Shape::Tls13 => {
            body[len] = typ;
            keys.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*header),
                &mut body[..len + 1],
            )
        }
        Shape::Tls12Gcm => {
            body[..EXPLICIT_NONCE].copy_from_slice(&nonce[4..]);
            keys.key.seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(tls12_aad(keys.seq, typ, [3, 3], len)),
                &mut body[EXPLICIT_NONCE..EXPLICIT_NONCE + len],
            )
        }
        Shape::Tls12Chacha => keys.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(tls12_aad(keys.seq, typ, [3, 3], len)),
            &mut body[..len],
        ),
    }
    .map_err(|_| io::Error::other("TLS record sealing failed"))?;
    body[payload - TAG..].copy_from_slice(tag.as_ref());
    keys.advance()
        .ok_or_else(|| io::Error::other("TLS sequence numbers exhausted"))?;
    Ok(total)
}

/// The header of the record at the start of `bytes`, if it is all there:
/// its type and the length of its payload.
///
/// # Errors
///
/// For a payload longer than any record may be (`record_overflow`).
#[inline]
pub(super) fn header(bytes: &[u8]) -> Result<Option<(u8, usize)>, TlsError> {
    let Some(header) = bytes.get(..HEADER) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if len > MAX_CIPHERTEXT {
        return Err(TlsError::record_overflow(
            "a record longer than 2^14 + 256 bytes",
        ));
    }
    Ok(Some((header[0], len)))
}

/// Opens the whole record `record` (header and payload) in place: its
/// content type and where its plaintext lies within `record`.
///
/// # Errors
///
/// A record that does not authenticate or is too short to
/// (`bad_record_mac`), carries too much plaintext (`record_overflow`), is
/// of a content type not expected after the handshake (TLS 1.3: not
/// `application_data` on the outside, or with no content type inside:
/// `unexpected_message`). `record` must hold its header and no more than
/// its payload.
pub(super) fn open(
    shape: Shape,
    keys: &mut Keys,
    record: &mut [u8],
) -> Result<(u8, Range<usize>), TlsError> {
    let typ = record[0];
    let version = [record[1], record[2]];
    let (header, payload) = record.split_at_mut(HEADER);
    let nonce = keys.nonce();
    let (typ, range) = match shape {
        Shape::Tls13 => {
            if typ != APPLICATION_DATA {
                return Err(TlsError::unexpected(
                    "a record not protected after the handshake",
                ));
            }
            let inner = keys
                .key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&*header),
                    payload,
                )
                .map_err(|_| TlsError::bad_record_mac())?;
            // TLSInnerPlaintext: content, type, padding; at most 2^14 + 1
            // bytes (RFC 8446 §5.4), padding included.
            if inner.len() > MAX_PLAINTEXT + 1 {
                return Err(TlsError::record_overflow(
                    "a record of more than 2^14 + 1 bytes of inner plaintext",
                ));
            }
            // The content type is the last byte that is not padding.
            let Some(end) = inner.iter().rposition(|&byte| byte != 0) else {
                return Err(TlsError::unexpected("a record with no content type"));
            };
            (inner[end], HEADER..HEADER + end)
        }
        Shape::Tls12Gcm | Shape::Tls12Chacha
            if !matches!(typ, ALERT | HANDSHAKE | APPLICATION_DATA) =>
        {
            return Err(TlsError::unexpected(
                "a record of a content type not expected after the handshake",
            ));
        }
        Shape::Tls12Gcm => {
            let Some(len) = payload.len().checked_sub(EXPLICIT_NONCE + TAG) else {
                return Err(TlsError::bad_record_mac());
            };
            let mut nonce = nonce;
            nonce[4..].copy_from_slice(&payload[..EXPLICIT_NONCE]);
            keys.key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(tls12_aad(keys.seq, typ, version, len)),
                    &mut payload[EXPLICIT_NONCE..],
                )
                .map_err(|_| TlsError::bad_record_mac())?;
            let start = HEADER + EXPLICIT_NONCE;
            (typ, start..start + len)
        }
        Shape::Tls12Chacha => {
            let Some(len) = payload.len().checked_sub(TAG) else {
                return Err(TlsError::bad_record_mac());
            };
            keys.key
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(tls12_aad(keys.seq, typ, version, len)),
                    payload,
                )
                .map_err(|_| TlsError::bad_record_mac())?;
            (typ, HEADER..HEADER + len)
        }
    };
    if range.len() > MAX_PLAINTEXT {
        return Err(TlsError::record_overflow(
            "a record of more than 2^14 bytes of plaintext",
        ));
    }
    keys.advance()
        .ok_or(TlsError::internal("sequence numbers exhausted"))?;
    Ok((typ, range))
}

/// An `InvalidData` error saying `what`.
pub(super) fn invalid(what: &'static str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys for AES-128-GCM (0), AES-256-GCM (1) or ChaCha20-Poly1305.
    fn keys(which: u8, seq: u64) -> Keys {
        let (algorithm, len) = match which {
            0 => (&aead::AES_128_GCM, 16),
            1 => (&aead::AES_256_GCM, 32),
            _ => (&aead::CHACHA20_POLY1305, 32),
        };
        Keys::with(algorithm, &[which + 1; 32][..len], &[7; 12], seq).unwrap()
    }

    #[test]
    fn sealed_records_open_and_tampered_ones_do_not() {
        for (shape, which) in [
            (Shape::Tls13, 0),
            (Shape::Tls13, 1),
            (Shape::Tls13, 2),
            (Shape::Tls12Gcm, 0),
            (Shape::Tls12Gcm, 1),
            (Shape::Tls12Chacha, 2),
        ] {
            let mut tx = keys(which, 5);
            let mut rx = keys(which, 5);
            for len in [0usize, 1, 100, MAX_PLAINTEXT] {
                let mut out = vec![0u8; MAX_RECORD];
                let start = HEADER + shape.prefix();
                for (i, byte) in out[start..start + len].iter_mut().enumerate() {
                    *byte = i as u8;
                }
                let n = seal(shape, &mut tx, APPLICATION_DATA, &mut out, len).unwrap();
                assert_eq!(n, len + shape.overhead());
                let (typ, payload) = header(&out).unwrap().unwrap();
                assert_eq!(HEADER + payload, n);
                let mut tampered = out[..n].to_vec();
                tampered[n - 1] ^= 1;
                let mut wrong = keys(which, rx.seq());
                assert!(open(shape, &mut wrong, &mut tampered).is_err());
                let (typ_inside, range) = open(shape, &mut rx, &mut out[..n]).unwrap();
                assert_eq!(typ_inside, APPLICATION_DATA);
                assert_eq!(range.len(), len);
                assert!(
                    out[range]
                        .iter()
                        .enumerate()
                        .all(|(i, &byte)| byte == i as u8)
                );
                assert_eq!(
                    typ,
                    if shape == Shape::Tls13 {
                        APPLICATION_DATA
                    } else {
                        typ_inside
                    }
                );
            }
            // A record replayed (the sequence number moved on) fails.
            let mut out = vec![0u8; MAX_RECORD];
            let n = seal(shape, &mut tx, ALERT, &mut out, 2).unwrap();
            let mut replay = out[..n].to_vec();
            open(shape, &mut rx, &mut out[..n]).unwrap();
            assert!(open(shape, &mut rx, &mut replay).is_err());
        }
    }

    #[test]
    fn every_byte_of_a_record_is_authenticated() {
        // The header too: a TLS 1.2 record's version is in its additional
        // data as received (once taken whatever it said: a fuzzing find).
        for (shape, which) in [
            (Shape::Tls13, 0),
            (Shape::Tls12Gcm, 1),
            (Shape::Tls12Chacha, 2),
        ] {
            let mut tx = keys(which, 0);
            let mut out = vec![0u8; MAX_RECORD];
            let n = seal(shape, &mut tx, APPLICATION_DATA, &mut out, 20).unwrap();
            for at in 0..n {
                // The length is the framing's: another one is another record.
                if (3..5).contains(&at) {
                    continue;
                }
                let mut tampered = out[..n].to_vec();
                tampered[at] ^= 1;
                let result = open(shape, &mut keys(which, 0), &mut tampered);
                assert!(
                    result.is_err(),
                    "{shape:?}: byte {at} altered, yet it opens"
                );
            }
            assert!(open(shape, &mut keys(which, 0), &mut out[..n]).is_ok());
        }
    }

    #[test]
    fn a_record_longer_than_the_limit_is_refused() {
        let mut bytes = [23u8, 3, 3, 0, 0];
        bytes[3..].copy_from_slice(&((MAX_CIPHERTEXT + 1) as u16).to_be_bytes());
        assert!(header(&bytes).is_err());
        bytes[3..].copy_from_slice(&(MAX_CIPHERTEXT as u16).to_be_bytes());
        assert_eq!(header(&bytes).unwrap(), Some((23, MAX_CIPHERTEXT)));
        assert_eq!(header(&bytes[..4]).unwrap(), None);
    }
}
