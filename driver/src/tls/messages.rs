//! Handshake messages a client may send after the handshake: in TLS 1.3
//! a `KeyUpdate`, in TLS 1.2 a `ClientHello` asking to renegotiate (which
//! the connection refuses). Any other is `unexpected_message`.
//!
//! A handshake message may be cut into pieces over several records (RFC
//! 8446 §5.1, RFC 5246 §6.2.1), and several may share a record, so they
//! are read across records: [`Reassembly`] is where a message stands
//! between two records. Nothing is kept of a `ClientHello` but how many of
//! its bytes are still to come; a `KeyUpdate` is five bytes.

use super::alert::TlsError;

/// `client_hello`.
const CLIENT_HELLO: u8 = 1;
/// `key_update`.
const KEY_UPDATE: u8 = 24;
/// A handshake message's header: type and 24-bit length.
const MESSAGE_HEADER: usize = 4;
/// The longest `ClientHello` skipped (rustls' bound on a handshake
/// message, 2¹⁶ - 1 bytes): a longer one is `decode_error`.
const MAX_CLIENT_HELLO: u32 = 0xffff;

/// A handshake message received whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Message {
    /// TLS 1.3 `KeyUpdate`: whether the peer asks for ours too. Always
    /// the last message of its record: the keys change after it.
    KeyUpdate {
        /// `update_requested`.
        requested: bool,
    },
    /// TLS 1.2 `ClientHello`: a renegotiation.
    ClientHello,
}

/// Where a handshake message received in pieces stands between records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reassembly {
    /// At a message boundary.
    Idle,
    /// The start of a message: its header, and a key update's one byte
    /// of body (`bytes[..len]` received).
    Head {
        /// The bytes received.
        bytes: [u8; MESSAGE_HEADER + 1],
        /// How many.
        len: usize,
    },
    /// The body of a `ClientHello` not yet received, skipped: how many
    /// bytes are still to come.
    Skipping {
        /// Bytes still to come.
        left: u32,
    },
}

impl Reassembly {
    /// Whether no message is in pieces: only then may a record of
    /// another type come (RFC 8446 §5.1).
    #[inline]
    pub(super) fn is_idle(&self) -> bool {
        matches!(self, Reassembly::Idle)
    }

    /// Reads the handshake messages in `fragment`, a record's plaintext,
    /// calling `on` for each one received whole.
    ///
    /// # Errors
    ///
    /// An empty fragment or a message of a type not expected after the
    /// handshake (`unexpected_message`), a key update with more after it
    /// in its record (`unexpected_message`) or with a value other than 0
    /// or 1 (`illegal_parameter`), a message of the wrong length
    /// (`decode_error`); or `on`'s error.
    pub(super) fn read(
        &mut self,
        tls13: bool,
        mut fragment: &[u8],
        mut on: impl FnMut(Message) -> Result<(), TlsError>,
    ) -> Result<(), TlsError> {
        if fragment.is_empty() {
            return Err(TlsError::unexpected("an empty handshake record"));
        }
        while !fragment.is_empty() {
            match self {
                Reassembly::Idle => {
                    *self = Reassembly::Head {
                        bytes: [0; MESSAGE_HEADER + 1],
                        len: 0,
                    };
                }
                Reassembly::Skipping { left } => {
                    let n = fragment.len().min(*left as usize);
                    fragment = &fragment[n..];
                    *left -= n as u32;
                    if *left == 0 {
                        *self = Reassembly::Idle;
                        on(Message::ClientHello)?;
                    }
                }
                Reassembly::Head { bytes, len } => {
                    // The header, then (a key update) its byte of body.
                    let want = if *len < MESSAGE_HEADER {
                        MESSAGE_HEADER
                    } else {
                        MESSAGE_HEADER + 1
                    };
                    let n = fragment.len().min(want - *len);
                    bytes[*len..*len + n].copy_from_slice(&fragment[..n]);
                    *len += n;
                    fragment = &fragment[n..];
                    let expected = if tls13 { KEY_UPDATE } else { CLIENT_HELLO };
                    if bytes[0] != expected {
                        return Err(TlsError::unexpected(
                            "a handshake message not expected after the handshake",
                        ));
                    }
                    if *len < MESSAGE_HEADER {
                        continue;
                    }
                    let length = u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]);
                    if tls13 {
                        if length != 1 {
                            return Err(TlsError::decode("a key update of the wrong length"));
                        }
                        if *len < MESSAGE_HEADER + 1 {
                            continue;
                        }
                        let requested = match bytes[MESSAGE_HEADER] {
                            0 => false,
                            1 => true,
                            _ => {
                                return Err(TlsError::illegal("a key update of an unknown kind"));
                            }
                        };
                        if !fragment.is_empty() {
                            // RFC 8446 §5.1: keys change at a record's end.
                            return Err(TlsError::unexpected(
                                "a key update not at the end of its record",
                            ));
                        }
                        *self = Reassembly::Idle;
                        on(Message::KeyUpdate { requested })?;
                    } else if length > MAX_CLIENT_HELLO {
                        return Err(TlsError::decode("a ClientHello longer than 2^16 - 1 bytes"));
                    } else if length == 0 {
                        *self = Reassembly::Idle;
                        on(Message::ClientHello)?;
                    } else {
                        *self = Reassembly::Skipping { left: length };
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::AlertDescription;

    /// The messages `records` give, or the alert of the first failure.
    fn read(tls13: bool, records: &[&[u8]]) -> Result<Vec<Message>, AlertDescription> {
        let mut reassembly = Reassembly::Idle;
        let mut got = Vec::new();
        for record in records {
            reassembly
                .read(tls13, record, |message| {
                    got.push(message);
                    Ok(())
                })
                .map_err(|error| error.alert_to_send().unwrap())?;
        }
        assert!(reassembly.is_idle(), "{reassembly:?}");
        Ok(got)
    }

    #[test]
    fn key_updates_whole_and_in_pieces() {
        let update = Message::KeyUpdate { requested: true };
        assert_eq!(read(true, &[&[24, 0, 0, 1, 1]]), Ok(vec![update]));
        assert_eq!(read(true, &[&[24], &[0, 0], &[1, 1]]), Ok(vec![update]));
        assert_eq!(
            read(true, &[&[24, 0, 0, 1, 0]]),
            Ok(vec![Message::KeyUpdate { requested: false }])
        );
        // Not at the end of its record, of another kind, length or type.
        let error = |records: &[&[u8]]| read(true, records).unwrap_err();
        assert_eq!(
            error(&[&[24, 0, 0, 1, 0, 24]]),
            AlertDescription::UnexpectedMessage
        );
        assert_eq!(
            error(&[&[24, 0, 0, 1, 2]]),
            AlertDescription::IllegalParameter
        );
        assert_eq!(
            error(&[&[24, 0, 0, 2, 0, 0]]),
            AlertDescription::DecodeError
        );
        assert_eq!(
            error(&[&[1, 0, 0, 1, 0]]),
            AlertDescription::UnexpectedMessage
        );
        assert_eq!(error(&[&[4]]), AlertDescription::UnexpectedMessage);
        assert_eq!(error(&[&[]]), AlertDescription::UnexpectedMessage);
    }

    #[test]
    fn client_hellos_are_skipped_whole_and_in_pieces() {
        let mut hello = vec![1, 0, 1, 0];
        hello.extend(std::iter::repeat_n(7, 256));
        assert_eq!(read(false, &[&hello]), Ok(vec![Message::ClientHello]));
        let pieces: Vec<&[u8]> = hello.chunks(3).collect();
        assert_eq!(read(false, &pieces), Ok(vec![Message::ClientHello]));
        // Two in one record.
        let two = [&hello[..], &hello[..]].concat();
        assert_eq!(
            read(false, &[&two]),
            Ok(vec![Message::ClientHello, Message::ClientHello])
        );
        assert_eq!(
            read(false, &[&[1, 1, 0, 0]]),
            Err(AlertDescription::DecodeError)
        );
        assert_eq!(
            read(false, &[&[24, 0, 0, 1, 0]]),
            Err(AlertDescription::UnexpectedMessage)
        );
        // A message cut short leaves the reassembly waiting.
        let mut reassembly = Reassembly::Idle;
        reassembly.read(false, &hello[..10], |_| Ok(())).unwrap();
        assert_eq!(reassembly, Reassembly::Skipping { left: 250 });
    }
}
