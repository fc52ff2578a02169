//! The client that tests the server from inside the firmware: it holds one
//! [`Conversation`] on one smoltcp TCP socket, sends each exchange's
//! request and checks every byte of the answer as it arrives.

use cortex_m_semihosting::hprintln;
use smoltcp::iface::Context;
use smoltcp::socket::tcp::{self, RecvError, State};
use smoltcp::wire::IpEndpoint;

use crate::report::Escaped;

/// One request and its answer.
pub struct Exchange {
    /// What the summary calls it.
    pub name: &'static str,
    /// The request, in pieces: each goes out in a poll of its own, so in a
    /// TCP segment of its own.
    pub send: &'static [&'static [u8]],
    /// Every byte the server must answer with, and no more.
    pub expect: &'static [u8],
}

/// Exchanges on one connection, in order; after the last, the server
/// must close the connection.
pub struct Conversation {
    /// What the summary calls it.
    pub name: &'static str,
    /// The exchanges.
    pub exchanges: &'static [Exchange],
}

/// Where a client is in its conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Not connected yet.
    Idle,
    /// The TCP handshake is under way.
    Connecting,
    /// Sending and checking exchange `exchange`: `piece` pieces of it sent
    /// and `sent` bytes of the next, `received` bytes of the answer matched.
    Exchanging {
        /// The exchange in hand.
        exchange: usize,
        /// Pieces of its request sent whole.
        piece: usize,
        /// Bytes sent of the next piece.
        sent: usize,
        /// Bytes of the answer received, all as expected.
        received: usize,
    },
    /// Every exchange passed; the server's FIN is due, and nothing else.
    AwaitingClose,
    /// The conversation passed and the client closed its side.
    Passed,
    /// A byte differed, the connection broke, or the server did not close.
    Failed,
}

/// A client holding one conversation.
pub struct Client {
    /// The conversation.
    conversation: &'static Conversation,
    /// The server's address.
    server: IpEndpoint,
    /// The client's own port.
    local_port: u16,
    /// Where it is.
    progress: Progress,
    /// Exchanges that passed.
    passed: usize,
}

impl Client {
    /// A client that will hold `conversation` with `server`, from
    /// `local_port`.
    pub fn new(conversation: &'static Conversation, server: IpEndpoint, local_port: u16) -> Self {
        Client {
            conversation,
            server,
            local_port,
            progress: Progress::Idle,
            passed: 0,
        }
    }

    /// Whether the conversation is over, passed or failed.
    pub fn is_done(&self) -> bool {
        matches!(self.progress, Progress::Passed | Progress::Failed)
    }

    /// Whether the conversation passed.
    pub fn passed(&self) -> bool {
        self.progress == Progress::Passed
    }

    /// Where the client is, for a report of a run that did not finish.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Exchanges that passed.
    pub fn exchanges_passed(&self) -> usize {
        self.passed
    }

    /// The conversation held.
    pub fn conversation(&self) -> &'static Conversation {
        self.conversation
    }

    /// Moves the conversation on as far as the socket allows.
    pub fn poll(&mut self, socket: &mut tcp::Socket<'_>, cx: &mut Context) {
        self.progress = match self.progress {
            Progress::Idle => match socket.connect(cx, self.server, self.local_port) {
                Ok(()) => Progress::Connecting,
                Err(error) => self.fail(format_args!("cannot connect: {error}")),
            },
            Progress::Connecting => match socket.state() {
                State::SynSent | State::SynReceived => Progress::Connecting,
                State::Established => self.exchange(socket, 0, 0, 0, 0),
                state => self.fail(format_args!("connection refused ({state})")),
            },
            Progress::Exchanging {
                exchange,
                piece,
                sent,
                received,
            } => self.exchange(socket, exchange, piece, sent, received),
            Progress::AwaitingClose => self.await_close(socket),
            done @ (Progress::Passed | Progress::Failed) => done,
        };
    }

    /// Sends what is left of the request and checks what arrived of the
    /// answer.
    fn exchange(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        index: usize,
        mut piece: usize,
        mut sent: usize,
        mut received: usize,
    ) -> Progress {
        let exchange = &self.conversation.exchanges[index];
        if let Some(bytes) = exchange.send.get(piece) {
            sent += socket.send_slice(&bytes[sent..]).unwrap_or(0);
            if sent == bytes.len() {
                piece += 1;
                sent = 0;
            }
        }
        let mut scratch = [0; 256];
        loop {
            let want = (exchange.expect.len() - received).min(scratch.len());
            if want == 0 {
                break;
            }
            let n = match socket.recv_slice(&mut scratch[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(RecvError::Finished) => {
                    return self.fail(format_args!(
                        "{}: the server closed after {received} of {} bytes",
                        exchange.name,
                        exchange.expect.len()
                    ));
                }
                Err(RecvError::InvalidState) => {
                    return self.fail(format_args!(
                        "{}: the connection broke ({})",
                        exchange.name,
                        socket.state()
                    ));
                }
            };
            let expected = &exchange.expect[received..received + n];
            if let Some(at) = (0..n).find(|&i| scratch[i] != expected[i]) {
                return self.fail(format_args!(
                    "{}: byte {} differs\n  expected: {}\n  received: {}",
                    exchange.name,
                    received + at,
                    Escaped(&expected[at..]),
                    Escaped(&scratch[at..n]),
                ));
            }
            received += n;
        }
        if piece < exchange.send.len() || received < exchange.expect.len() {
            return Progress::Exchanging {
                exchange: index,
                piece,
                sent,
                received,
            };
        }
        hprintln!("  ok  {} ({} bytes)", exchange.name, exchange.expect.len());
        self.passed += 1;
        if index + 1 < self.conversation.exchanges.len() {
            Progress::Exchanging {
                exchange: index + 1,
                piece: 0,
                sent: 0,
                received: 0,
            }
        } else {
            Progress::AwaitingClose
        }
    }

    /// Waits for the server's FIN after the last exchange; closes the
    /// client's side once it came.
    fn await_close(&mut self, socket: &mut tcp::Socket<'_>) -> Progress {
        let mut byte = [0; 1];
        match socket.recv_slice(&mut byte) {
            Ok(0) => Progress::AwaitingClose,
            Ok(_) => self.fail(format_args!(
                "{}: a byte after the last answer: {}",
                self.conversation.name,
                Escaped(&byte)
            )),
            Err(RecvError::Finished) => {
                socket.close();
                hprintln!("  ok  {}: closed by the server", self.conversation.name);
                Progress::Passed
            }
            Err(RecvError::InvalidState) => self.fail(format_args!(
                "{}: reset instead of closed",
                self.conversation.name
            )),
        }
    }

    /// Reports a failure.
    fn fail(&self, why: core::fmt::Arguments<'_>) -> Progress {
        hprintln!("FAIL {}: {}", self.conversation.name, why);
        Progress::Failed
    }
}
