//! The client connection preface (RFC 9113 §3.4), and telling it from an
//! HTTP/1.1 request on a plaintext port that serves both.

/// The 24 bytes a client sends first on every HTTP/2 connection
/// (RFC 9113 §3.4), followed by a SETTINGS frame. An HTTP/1.1 server
/// reads them as a request with the method `PRI` and the version
/// `HTTP/2.0`, which it refuses.
pub const CLIENT_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a plaintext connection are, as far as
/// [`detect_preface`] can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrefaceStatus {
    /// The bytes start with the whole [`CLIENT_PREFACE`]: an HTTP/2
    /// connection with prior knowledge (§3.3). Its first frame starts at
    /// `CLIENT_PREFACE.len()`.
    Matched,
    /// Every byte so far agrees with the preface, but it is not complete:
    /// read more before deciding.
    Partial,
    /// A byte differs from the preface: not HTTP/2 (on a port that also
    /// serves HTTP/1.1, a request to hand to that parser).
    Mismatch,
}

/// Tells whether `input`, the first bytes received on a connection,
/// begins with the client preface.
///
/// Answers [`PrefaceStatus::Mismatch`] at the first byte that differs,
/// so an HTTP/1.1 request is recognised from its first byte unless its
/// method starts like `PRI` (`GET ` at once, `PRIX` at its fourth byte).
///
/// ```
/// use peregrine_core::h2::frame::{detect_preface, PrefaceStatus, CLIENT_PREFACE};
///
/// assert_eq!(detect_preface(b""), PrefaceStatus::Partial);
/// assert_eq!(detect_preface(b"PRI * HTTP/2"), PrefaceStatus::Partial);
/// assert_eq!(detect_preface(b"G"), PrefaceStatus::Mismatch);
/// assert_eq!(detect_preface(b"PRI / HTTP/1.1\r\n"), PrefaceStatus::Mismatch);
/// assert_eq!(detect_preface(CLIENT_PREFACE), PrefaceStatus::Matched);
/// ```
pub fn detect_preface(input: &[u8]) -> PrefaceStatus {
    let compared = input.len().min(CLIENT_PREFACE.len());
    if input
        .iter()
        .zip(CLIENT_PREFACE)
        .any(|(byte, expected)| byte != expected)
    {
        PrefaceStatus::Mismatch
    } else if compared == CLIENT_PREFACE.len() {
        PrefaceStatus::Matched
    } else {
        PrefaceStatus::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_partial_and_the_whole_matches() {
        for len in 0..CLIENT_PREFACE.len() {
            assert_eq!(
                detect_preface(&CLIENT_PREFACE[..len]),
                PrefaceStatus::Partial,
                "{len}"
            );
        }
        assert_eq!(detect_preface(CLIENT_PREFACE), PrefaceStatus::Matched);
        let mut longer = [0; 40];
        longer[..24].copy_from_slice(CLIENT_PREFACE);
        assert_eq!(detect_preface(&longer), PrefaceStatus::Matched);
    }

    #[test]
    fn a_difference_at_any_position_is_a_mismatch_at_once() {
        for position in 0..CLIENT_PREFACE.len() {
            let mut wire = *CLIENT_PREFACE;
            wire[position] ^= 0x20;
            // Decided as soon as the differing byte is in, whatever follows.
            for len in position + 1..=wire.len() {
                assert_eq!(
                    detect_preface(&wire[..len]),
                    PrefaceStatus::Mismatch,
                    "{position} {len}"
                );
            }
            assert_eq!(detect_preface(&wire[..position]), PrefaceStatus::Partial);
        }
    }

    #[test]
    fn http1_requests_are_told_apart_early() {
        assert_eq!(detect_preface(b"G"), PrefaceStatus::Mismatch);
        assert_eq!(
            detect_preface(b"POST / HTTP/1.1\r\n"),
            PrefaceStatus::Mismatch
        );
        assert_eq!(detect_preface(b"PO"), PrefaceStatus::Mismatch);
        assert_eq!(detect_preface(b"PRI "), PrefaceStatus::Partial);
        assert_eq!(detect_preface(b"PRIX"), PrefaceStatus::Mismatch);
        // The HTTP/1.1 reading of the preface's first line.
        assert_eq!(
            detect_preface(b"PRI * HTTP/1.1\r\n"),
            PrefaceStatus::Mismatch
        );
        assert_eq!(
            detect_preface(b"PRI * HTTP/2.0\r\n\r\nXX"),
            PrefaceStatus::Mismatch
        );
    }
}
