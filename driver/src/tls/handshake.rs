//! The handshake, with rustls' unbuffered connection: records received
//! are shown to it where they lie in the connection's record buffer, and
//! what it answers is encoded into the buffer's output, until the
//! handshake is done and the connection's secrets go to the record layer
//! ([`Traffic`]).
//!
//! Records are shown to rustls one at a time, so that it never sees the
//! first record of application data, which a client may send right
//! behind its `Finished`: rustls would decrypt it into a buffer of its
//! own. It stops at the record after `Finished`, which the record layer
//! opens in place.

use std::io::{self, ErrorKind};

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncodeTlsData, UnbufferedStatus};

use super::buffers::{Input, Output, Records};
use super::record;
use super::traffic::Traffic;
use crate::io::Socket;

/// A connection during its handshake.
pub(super) struct Handshake {
    /// rustls' state.
    pub(super) conn: UnbufferedServerConnection,
    /// When the handshake must be done by (ms).
    pub(super) deadline: u64,
}

/// Where the handshake stands after [`advance`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Advance {
    /// Done: the connection may become [`Traffic`] ([`finish`]).
    Done,
    /// It needs more records from the peer.
    NeedInput,
    /// The peer closed the connection (`close_notify`) first.
    Closed,
}

/// What one step of rustls' asked for.
enum Step {
    /// Something was done: ask again.
    Again,
    /// It waits for records.
    Blocked,
    /// It may send application data (TLS 1.3: before the client's
    /// `Finished`, too).
    Writable,
    /// The peer closed.
    Closed,
}

/// Moves the handshake on as far as the records received allow: shows
/// them to rustls one at a time, encoding what it answers into `output`
/// (sending through `socket` first if it needs room).
///
/// # Errors
///
/// rustls' error (its alert goes out first if the socket takes it), or
/// the socket's.
pub(super) fn advance<S: Socket>(
    conn: &mut UnbufferedServerConnection,
    records: &mut Records,
    socket: &mut S,
) -> io::Result<Advance> {
    let Records { input, output } = records;
    loop {
        let (discard, step) = {
            let UnbufferedStatus { discard, state } =
                conn.process_tls_records(&mut input.bytes[input.start..input.offered]);
            let step = match state {
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode(&mut data, output, socket).map(|()| Step::Again)
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    // The records are in the output, which is sent as
                    // the socket takes it.
                    data.done();
                    Ok(Step::Again)
                }
                Ok(ConnectionState::BlockedHandshake) => Ok(Step::Blocked),
                Ok(ConnectionState::WriteTraffic(_)) => Ok(Step::Writable),
                Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => Ok(Step::Closed),
                Ok(_) => Err(record::invalid(
                    "application data before the TLS handshake finished",
                )),
                Err(error) => Err(io::Error::new(ErrorKind::InvalidData, error)),
            };
            (discard, step)
        };
        input.start += discard;
        let step = match step {
            Ok(step) => step,
            Err(error) => {
                if error.kind() == ErrorKind::InvalidData {
                    send_alert(conn, input, output, socket);
                }
                return Err(error);
            }
        };
        match step {
            Step::Again => {}
            Step::Closed => return Ok(Advance::Closed),
            Step::Writable if !conn.is_handshaking() => {
                if input.start != input.offered {
                    return Err(record::invalid("a TLS handshake message cut short"));
                }
                return Ok(Advance::Done);
            }
            Step::Blocked | Step::Writable => {
                let next = &input.bytes[input.offered..input.end];
                if let Some(&typ) = next.first()
                    && !HANDSHAKE_TYPES.contains(&typ)
                {
                    // Not TLS: refused at its first byte, not waited on
                    // for a record length it never meant.
                    let plain_http = input.offered == 0 && typ.is_ascii_uppercase();
                    refuse(plain_http, output, socket);
                    return Err(record::invalid("not a TLS record"));
                }
                // Show rustls the next record, if it is all there.
                let header = record::header(&input.bytes[input.offered..input.end])
                    .map_err(|_| record::invalid("a TLS record longer than the limit"))?;
                match header {
                    Some((_, len)) if input.end - input.offered >= record::HEADER + len => {
                        input.offered += record::HEADER + len;
                    }
                    _ => return Ok(Advance::NeedInput),
                }
            }
        }
    }
}

/// The content types of the records a handshake takes:
/// `change_cipher_spec`, `alert`, `handshake`, and `application_data`
/// (TLS 1.3 encrypts the client's last handshake messages as such).
const HANDSHAKE_TYPES: [u8; 4] = [20, 21, 22, 23];

/// What a client that sent plain HTTP to a TLS port gets, as nginx
/// answers it: a `400` it can read, then the close.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain\r\n\
Content-Length: 35\r\n\
Connection: close\r\n\
\r\n\
This port speaks HTTPS, not HTTP.\r\n";

/// A fatal `unexpected_message` alert, in a plaintext record.
const UNEXPECTED_MESSAGE: [u8; 7] = [21, 3, 3, 0, 2, 2, 10];

/// Answers bytes that are not TLS: a client that began with an HTTP
/// method (`plain_http`) gets [`PLAIN_HTTP_ANSWER`], anything else a
/// fatal alert, as far as the socket takes it now.
fn refuse<S: Socket>(plain_http: bool, output: &mut Output, socket: &mut S) {
    let answer: &[u8] = if plain_http {
        PLAIN_HTTP_ANSWER
    } else {
        &UNEXPECTED_MESSAGE
    };
    output.compact();
    if let Some(space) = output.space().get_mut(..answer.len()) {
        space.copy_from_slice(answer);
        output.filled += answer.len();
    }
    let _ = output.send(socket);
}

/// Encodes a record of the handshake into `output`, sending what waits
/// there through `socket` first if it needs room.
fn encode<S: Socket>(
    data: &mut EncodeTlsData<'_, rustls::server::ServerConnectionData>,
    output: &mut Output,
    socket: &mut S,
) -> io::Result<()> {
    loop {
        output.compact();
        match data.encode(output.space()) {
            Ok(n) => {
                output.filled += n;
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(_)) if output.has_output() => {
                match output.send(socket) {
                    Ok(()) => {}
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        // Nothing more fits and the peer reads nothing:
                        // rustls cannot keep the record for later.
                        if output.sent == 0 {
                            return Err(io::Error::other(
                                "the peer takes no TLS handshake records",
                            ));
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(io::Error::other(error)),
        }
    }
}

/// After rustls failed: encodes the alert it queued and sends what the
/// socket takes, at most a few records.
fn send_alert<S: Socket>(
    conn: &mut UnbufferedServerConnection,
    input: &mut Input,
    output: &mut Output,
    socket: &mut S,
) {
    for _ in 0..4 {
        let UnbufferedStatus { state, .. } =
            conn.process_tls_records(&mut input.bytes[input.start..input.start]);
        match state {
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                if encode(&mut data, output, socket).is_err() {
                    break;
                }
            }
            Ok(ConnectionState::TransmitTlsData(data)) => data.done(),
            _ => break,
        }
    }
    let _ = output.send(socket);
}

/// The connection once its handshake is done: its secrets go to the
/// record layer.
///
/// # Errors
///
/// If rustls cannot give the secrets (a configuration without secret
/// extraction, which [`TlsConfig`](super::TlsConfig) always enables) or
/// the record layer does not know the cipher suite.
pub(super) fn finish(handshake: Handshake) -> io::Result<Traffic> {
    let conn = handshake.conn;
    let alpn = conn.alpn_protocol().map(Box::from);
    let (secrets, kernel) = conn
        .dangerous_into_kernel_connection()
        .map_err(io::Error::other)?;
    Traffic::new(secrets, kernel, alpn)
}
