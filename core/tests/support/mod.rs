//! The backend side of scripted conversations with the connection
//! machine: bytes in, bytes out, no sockets. [`Driver`] plays the backend,
//! with a test-owned clock and configurable read splits and write progress.
#![allow(dead_code)]

use peregrine_core::{
    BodyPolicy, Config, Connection, Env, Fill, Handler, IoBuffers, Request, Response, StatusCode,
    Transmit,
};

/// Small buffers, so limits are reached with small inputs.
pub type Conn = Connection<1024, 2048, 16>;
pub type Bufs = IoBuffers<1024, 2048>;

/// A handler for scripted conversations.
pub struct Echo;

impl Handler for Echo {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path() {
            b"/" => response.body_static(b"Hello, World!"),
            b"/echo" => response.body(request.body()).unwrap(),
            b"/stream" => {
                response.set_tag(3);
                response.stream(None);
            }
            b"/close" => {
                response.close().body(b"bye").unwrap();
            }
            _ => {
                response.status(StatusCode::NOT_FOUND);
            }
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path() {
            b"/echo" => BodyPolicy::Buffer,
            _ => BodyPolicy::Ignore,
        }
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], _: &mut ()) -> Fill {
        // `tag` pieces of "abc", then done.
        buf[..3].copy_from_slice(b"abc");
        *tag -= 1;
        if *tag == 0 {
            Fill::Done(3)
        } else {
            Fill::More(3)
        }
    }
}

/// Plays the backend: feeds input in pieces, writes at most `write_step`
/// bytes per write, and records everything written.
pub struct Driver {
    pub conn: Conn,
    pub bufs: Box<Bufs>,
    pub now: u64,
    pub out: Vec<u8>,
    pub write_step: usize,
    pub write_closed: bool,
}

impl Driver {
    pub fn new() -> Self {
        Driver {
            conn: Conn::new(Config::DEFAULT, None, 0),
            bufs: Box::new(Bufs::new()),
            now: 0,
            out: Vec::new(),
            write_step: usize::MAX,
            write_closed: false,
        }
    }

    fn env<'e>(handler: &'e Echo, now: u64, local: &'e mut ()) -> Env<'e, Echo, ()> {
        Env {
            handler,
            local,
            date: None,
            now,
        }
    }

    /// Delivers `input` in pieces of `step` bytes, flushing output after
    /// each, as a backend would.
    pub fn feed(&mut self, input: &[u8], step: usize) {
        for piece in input.chunks(step.max(1)) {
            let mut piece = piece;
            while !piece.is_empty() && self.conn.interest().read {
                let space = self.conn.read_buf(&mut self.bufs);
                let n = space.len().min(piece.len());
                space[..n].copy_from_slice(&piece[..n]);
                piece = &piece[n..];
                self.conn
                    .on_read(n, &mut self.bufs, &mut Self::env(&Echo, self.now, &mut ()));
                self.flush();
            }
            self.flush();
        }
    }

    /// Writes until the connection has nothing more (or stops).
    pub fn flush(&mut self) {
        for _ in 0..10_000 {
            let written = match self.conn.transmit(&self.bufs) {
                Transmit::Idle => {
                    if self.conn.has_work() {
                        self.conn
                            .poll(&mut self.bufs, &mut Self::env(&Echo, self.now, &mut ()));
                        continue;
                    }
                    return;
                }
                Transmit::Write(slices) => {
                    let mut budget = self.write_step;
                    let mut n = 0;
                    for slice in slices {
                        let take = slice.len().min(budget);
                        self.out.extend_from_slice(&slice[..take]);
                        budget -= take;
                        n += take;
                    }
                    n
                }
                Transmit::SendFile(region) => region.len.min(self.write_step as u64) as usize,
                Transmit::CloseWrite => {
                    self.write_closed = true;
                    self.conn.on_write_closed(self.now);
                    return;
                }
            };
            self.conn.on_written(
                written,
                &mut self.bufs,
                &mut Self::env(&Echo, self.now, &mut ()),
            );
        }
        panic!("output never drained");
    }

    pub fn close_read(&mut self) {
        self.conn.on_read_closed(self.now);
        self.flush();
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        if self.conn.deadline().is_some_and(|d| d <= self.now) {
            self.conn.on_timeout(&mut self.bufs, self.now);
            self.flush();
        }
    }

    pub fn output(&self) -> &str {
        core::str::from_utf8(&self.out).unwrap()
    }
}
