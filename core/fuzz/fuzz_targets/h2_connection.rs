//! Arbitrary bytes through the HTTP/2 server connection with the smallest
//! buffers it takes (`MIN_READ`, `MIN_WRITE`), far below a frame of the
//! largest size, on an arbitrary schedule: how the input arrives (in
//! pieces of any size), how much each write moves, when the clock jumps,
//! when the peer closes. The connection never panics, never waits for
//! nothing, writes only whole, valid frames, and, once the peer has
//! closed and the clock runs, always finishes.
//!
//! Input layout: byte 0 holds, in bit 0, whether the client preface and
//! an empty SETTINGS frame are sent first (so that the fuzzer starts past
//! them), and the length of the schedule in bits 1..=7; that many
//! schedule bytes follow, then the bytes the peer sends. Each schedule
//! byte is an operation in its low 2 bits with an argument in the high 6;
//! what the schedule does not deliver arrives at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::h2::frame::{CLIENT_PREFACE, MAX_FRAME_SIZE_LIMIT, parse_frame};
use peregrine_core::h2::server::{MIN_READ, MIN_WRITE, ServerConnection};
use peregrine_core::{
    Capacity, Config, Counters, Env, FileRegion, Handler, IoBuffers, Request, Response, Transmit,
};

type Conn = ServerConnection<Capacity<MIN_READ, MIN_WRITE, 8>, 8>;
type Bufs = IoBuffers<Capacity<MIN_READ, MIN_WRITE, 8>>;

/// A body larger than the write buffer, sent as its own slices.
static LARGE: [u8; 40_000] = [b'l'; 40_000];

/// Answers by the second byte of the path: `e` echoes the body, `l`
/// sends [`LARGE`], `f` a file region, `h` a large response field, `s`
/// a streamed body (not served over HTTP/2: the stream is reset); else a
/// small static body.
struct Fuzz;

impl Handler for Fuzz {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        match request.path().get(1).copied() {
            Some(b'e') => {
                let _ = response.body(request.body());
            }
            Some(b'l') => response.body_static(&LARGE),
            Some(b'f') => {
                let n = request.path().len() as u64 * 997;
                // SAFETY: the region names no real file: the fuzzer's
                // peer makes up its bytes.
                let region = unsafe { FileRegion::borrowed(3, 0, n) };
                response.send_file_region(region);
            }
            Some(b'h') => {
                let n = request.path().len() * 50;
                let _ = response.header("x-large", vec![b'h'; n]);
                response.body_static(b"head");
            }
            Some(b's') => response.stream(None),
            _ => response.body_static(b"hello"),
        }
    }
}

/// The backend, and the client reading what the server writes.
struct Driver {
    conn: Box<Conn>,
    bufs: Box<Bufs>,
    counters: Counters,
    now: u64,
    pending: Vec<u8>,
    /// Bytes per read (`usize::MAX`: as many as the server takes).
    piece: usize,
    eof: bool,
    eof_reported: bool,
    /// Bytes one write may move; 0 blocks.
    write_budget: usize,
    /// What the server wrote, not yet parsed as frames.
    out: Vec<u8>,
}

impl Driver {
    fn env<'e>(local: &'e mut (), counters: &'e mut Counters, now: u64) -> Env<'e, Fuzz, ()> {
        Env {
            handler: &Fuzz,
            local,
            date: None,
            now,
            counters,
            files: None,
            spill: None,
            deflate: None,
        }
    }

    fn write_once(&mut self) -> bool {
        if self.conn.is_closed() {
            return false;
        }
        let written = match self.conn.poll_transmit(&self.bufs) {
            Transmit::Idle => return false,
            Transmit::Write(slices) => {
                let slices: Vec<&[u8]> = slices.collect();
                let offered: usize = slices.iter().map(|s| s.len()).sum();
                assert!(offered > 0, "empty write offered");
                let n = offered.min(self.write_budget);
                if n == 0 {
                    return false;
                }
                let mut left = n;
                for slice in slices {
                    let take = slice.len().min(left);
                    self.out.extend_from_slice(&slice[..take]);
                    left -= take;
                }
                n
            }
            Transmit::SendFile(region) => {
                assert!(region.len() > 0, "empty sendfile offered");
                let n = region.len().min(self.write_budget as u64) as usize;
                if n == 0 {
                    return false;
                }
                self.out.extend(std::iter::repeat_n(0, n));
                n
            }
            Transmit::CloseWrite => {
                self.conn
                    .handle_write_closed(&mut Self::env(&mut (), &mut self.counters, self.now));
                return true;
            }
        };
        self.conn.handle_written(
            written,
            &mut self.bufs,
            &mut Self::env(&mut (), &mut self.counters, self.now),
        );
        true
    }

    fn read_once(&mut self) -> bool {
        if !self.conn.interest().read {
            return false;
        }
        if self.pending.is_empty() {
            if self.eof && !self.eof_reported {
                self.eof_reported = true;
                self.conn
                    .handle_read_closed(&mut Self::env(&mut (), &mut self.counters, self.now));
                return true;
            }
            return false;
        }
        let space = self.conn.read_buf(&mut self.bufs);
        assert!(!space.is_empty(), "wants to read into no room");
        let n = space.len().min(self.pending.len()).min(self.piece);
        space[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.conn.handle_read(
            n,
            &mut self.bufs,
            &mut Self::env(&mut (), &mut self.counters, self.now),
        );
        true
    }

    /// Reads, writes and fires due deadlines until nothing more happens.
    fn pump(&mut self) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            while self.write_once() {
                progress = true;
            }
            progress |= self.read_once();
            if !progress && self.conn.poll_timeout().is_some_and(|d| d <= self.now) {
                self.conn.handle_timeout(
                    &mut self.bufs,
                    &mut Self::env(&mut (), &mut self.counters, self.now),
                );
                progress = true;
            }
            self.check();
            if !progress {
                return;
            }
        }
        panic!("the connection never settles");
    }

    /// What a backend and a client rely on.
    fn check(&mut self) {
        let conn = &self.conn;
        if conn.is_closed() {
            return;
        }
        let interest = conn.interest();
        let transmit = conn.poll_transmit(&self.bufs);
        assert_eq!(
            interest.write,
            !matches!(transmit, Transmit::Idle),
            "{transmit:?}"
        );
        assert!(
            interest.read || interest.write || conn.poll_timeout().is_some(),
            "waits for nothing: {conn:?}"
        );
        // Everything written is whole frames the client can parse.
        let mut at = 0;
        loop {
            match parse_frame(&self.out[at..], MAX_FRAME_SIZE_LIMIT) {
                Ok(Some((_, len))) => at += len,
                Ok(None) => break,
                Err(error) => panic!("the server wrote an invalid frame: {error}"),
            }
        }
        self.out.drain(..at);
    }

    /// Moves the clock to `target`, firing every deadline on the way.
    fn advance_to(&mut self, target: u64) {
        for _ in 0..64 {
            match self.conn.poll_timeout() {
                Some(deadline) if deadline <= target => {
                    self.now = self.now.max(deadline);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = self.now.max(target);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let schedule_len = usize::from(head >> 1).min(rest.len());
    let (schedule, mut input) = rest.split_at(schedule_len);
    let mut driver = Driver {
        conn: Box::new(Conn::new(Config::DEFAULT, None, 0)),
        bufs: Box::new(Bufs::new()),
        counters: Counters::default(),
        now: 0,
        pending: Vec::new(),
        piece: usize::MAX,
        eof: false,
        eof_reported: false,
        write_budget: usize::MAX,
        out: Vec::new(),
    };
    if head & 1 == 1 {
        driver.pending.extend_from_slice(CLIENT_PREFACE);
        driver
            .pending
            .extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
    }
    driver.check();

    for &op in schedule {
        let arg = usize::from(op >> 2);
        match op & 3 {
            // Bytes arrive: 1 to 3,970 of them.
            0 => {
                let n = (arg * arg + 1).min(input.len());
                driver.pending.extend_from_slice(&input[..n]);
                input = &input[n..];
                driver.pump();
            }
            // Bytes per read: 1 to 63, or as many as the server takes.
            1 => {
                driver.piece = if arg == 0 { usize::MAX } else { arg };
                driver.pump();
            }
            // How much each write moves: 0 (the peer does not read), 1
            // to 3,969 bytes, or everything.
            2 => {
                driver.write_budget = if arg == 63 { usize::MAX } else { arg * arg };
                driver.pump();
            }
            // The clock jumps, up to ~90 s; at 63, the peer shuts its
            // write side.
            _ if arg == 63 => {
                driver.eof = true;
                driver.pump();
            }
            _ => {
                let target = driver.now + (arg as u64).pow(3) / 3;
                driver.advance_to(target);
            }
        }
    }

    // The rest arrives, the peer reads everything and then closes: the
    // connection must finish, on its own or by its deadlines.
    driver.pending.extend_from_slice(input);
    driver.write_budget = usize::MAX;
    driver.pump();
    driver.eof = true;
    for _ in 0..64 {
        driver.pump();
        if driver.conn.is_closed() {
            return;
        }
        let deadline = driver
            .conn
            .poll_timeout()
            .expect("open, with nothing to wait for");
        driver.advance_to(deadline);
    }
    panic!("the connection never finishes");
});
