//! How the record layer fails a connection after its handshake: a
//! [`TlsError`] says why, and for a peer that broke the protocol, the
//! fatal alert it is sent (RFC 8446 §6.2, RFC 5246 §7.2.2).
//!
//! The alert is sealed under the current sending key, after whatever
//! records were sealed before it, and nothing is sealed after it: the
//! connection's TLS state is gone once it fails. A fatal alert from the
//! peer is answered with nothing, as both RFCs require.

use std::fmt;
use std::io;

use rustls::AlertDescription;

/// Why the record layer ended a connection after its handshake. A read
/// that fails for it returns an `io::Error` holding it (`get_ref`, then
/// `downcast_ref::<TlsError>()`): `InvalidData` for
/// [`Fatal`](TlsError::Fatal), `ConnectionAborted` for
/// [`PeerAlert`](TlsError::PeerAlert).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// The peer broke the protocol: the fatal alert sent to it (as the
    /// last record of the connection, if the socket took it) and what was
    /// wrong.
    Fatal {
        /// The alert's description.
        alert: AlertDescription,
        /// What the peer did.
        reason: &'static str,
    },
    /// The peer sent a fatal alert (its description): nothing is sent
    /// back.
    PeerAlert(AlertDescription),
}

impl TlsError {
    /// A record that does not authenticate: `bad_record_mac`.
    pub(super) const fn bad_record_mac() -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::BadRecordMac,
            reason: "a record that does not authenticate",
        }
    }

    /// A record longer than the limit: `record_overflow`.
    pub(super) const fn record_overflow(reason: &'static str) -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::RecordOverflow,
            reason,
        }
    }

    /// A record or message not expected now: `unexpected_message`.
    pub(super) const fn unexpected(reason: &'static str) -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::UnexpectedMessage,
            reason,
        }
    }

    /// A message that does not parse: `decode_error`.
    pub(super) const fn decode(reason: &'static str) -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::DecodeError,
            reason,
        }
    }

    /// A field with a value the protocol forbids: `illegal_parameter`.
    pub(super) const fn illegal(reason: &'static str) -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::IllegalParameter,
            reason,
        }
    }

    /// A failure of this side's own: `internal_error`.
    pub(super) const fn internal(reason: &'static str) -> TlsError {
        TlsError::Fatal {
            alert: AlertDescription::InternalError,
            reason,
        }
    }

    /// The fatal alert owed to the peer, if any.
    pub fn alert_to_send(&self) -> Option<AlertDescription> {
        match self {
            TlsError::Fatal { alert, .. } => Some(*alert),
            TlsError::PeerAlert(_) => None,
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Fatal { alert, reason } => {
                write!(f, "TLS: {reason} (fatal alert {alert:?})")
            }
            TlsError::PeerAlert(alert) => write!(f, "TLS: the peer sent the fatal alert {alert:?}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for io::Error {
    fn from(error: TlsError) -> io::Error {
        let kind = match error {
            TlsError::Fatal { .. } => io::ErrorKind::InvalidData,
            TlsError::PeerAlert(_) => io::ErrorKind::ConnectionAborted,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_carry_the_typed_error() {
        let error = io::Error::from(TlsError::bad_record_mac());
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let inner = error.get_ref().and_then(|e| e.downcast_ref::<TlsError>());
        assert_eq!(
            inner.and_then(TlsError::alert_to_send),
            Some(AlertDescription::BadRecordMac)
        );
        let error = io::Error::from(TlsError::PeerAlert(AlertDescription::HandshakeFailure));
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        assert!(error.to_string().contains("HandshakeFailure"));
    }
}
