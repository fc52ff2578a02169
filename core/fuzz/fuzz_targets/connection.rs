//! Arbitrary bytes through the connection state machine, driven on an
//! arbitrary schedule: how the input arrives, how much each write moves,
//! when the clock jumps, when the peer closes. The machine never panics,
//! keeps the promises a backend relies on after every step, never waits
//! for nothing, and, once the peer has closed and the clock runs, always
//! finishes.
//!
//! Input layout: byte 0 holds the configuration in bit 0 (tight limits)
//! and the length of the schedule in bits 1..=7; that many schedule bytes
//! follow, then the bytes the peer sends. Each schedule byte is an
//! operation in its low 3 bits with an argument in the high 5 (see
//! [`Op`]); what the schedule does not deliver arrives at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peregrine_core::ws::{Handshake, Message};
use peregrine_core::{
    Backpressure, BodyPolicy, Capacity, Config, Connection, Counters, Env, FileRegion, Fill, Handler,
    IoBuffers, Request, Response, StatusCode, TimerKind, Transmit, Upgrade, WebSocket,
};

const READ: usize = 1024;
const WRITE: usize = 2048;
type Conn = Connection<Capacity<READ, WRITE, 8>>;
type Bufs = IoBuffers<Capacity<READ, WRITE, 8>>;

/// Marks a stream that answers `Fill::More(0)` a few times first.
const STALL: u64 = 1 << 40;

/// A handler using every feature, chosen by the second byte of the path:
/// `e` echo (body read whole), `s` body streamed in, `i` body ignored,
/// `c` chunked stream, `l` stream with a length, `h` stream short of its
/// length, `w` stream that stalls before it produces, `f` a file, `u`
/// hijack, `x` close, `b` a large copied body, `n` `204`; anything else a
/// static body. Sizes come from the path's length. A WebSocket handshake
/// to a path whose second byte is `k` is accepted, and its messages are
/// echoed (twice, for `kk`, to fill the outbound budget).
struct Fuzz;

#[derive(Default)]
struct Local {
    streamed: u64,
}

fn size(request: &Request<'_>) -> u64 {
    (request.path().len() as u64).wrapping_mul(97) % 6000
}

impl Handler<Local> for Fuzz {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_, Local>) {
        let _ = (
            request.query_pairs().count(),
            request.is_websocket_upgrade(),
        );
        if let Some(value) = request.header("x-echo") {
            // Whatever the client sent: refused unless valid.
            let _ = response.header("X-Echo", value);
        }
        let n = size(request);
        match request.path().get(1).copied() {
            Some(b'e') => {
                if response.body(request.body()).is_err() {
                    response.status(StatusCode::INTERNAL_SERVER_ERROR);
                }
            }
            Some(b's') => {
                let streamed = core::mem::take(&mut response.local().streamed);
                let _ = response.header("X-Streamed", streamed.to_string());
                response.body_static(b"streamed");
            }
            Some(b'i') => {
                response.status(StatusCode::ACCEPTED);
            }
            Some(b'c') => {
                response.set_tag(n);
                response.stream(None);
            }
            Some(b'l') => {
                response.set_tag(n);
                response.stream(Some(n));
            }
            Some(b'h') => {
                response.set_tag(n / 2);
                response.stream(Some(n));
            }
            Some(b'w') => {
                response.set_tag(STALL * 3 + n);
                response.stream(None);
            }
            Some(b'f') => {
                // SAFETY: the region names no real file: the fuzzer's
                // peer makes up its bytes.
                let region = unsafe { FileRegion::borrowed(3, n, n) };
                response.send_file_region(region);
            }
            Some(b'u') => {
                response.status(StatusCode::SWITCHING_PROTOCOLS);
                let _ = response.header("Upgrade", "fuzz");
                response.hijack();
            }
            Some(b'x') => {
                response.close().body_static(b"bye");
            }
            Some(b'b') => {
                if response.body(&vec![b'b'; n as usize]).is_err() {
                    response.body_static(b"too big");
                }
            }
            Some(b'n') => {
                response.status(StatusCode::NO_CONTENT);
            }
            _ => response.body_static(b"Hello, World!"),
        }
    }

    fn websocket(&self, request: &Request<'_>, _: &Handshake<'_>) -> Upgrade {
        match request.path().get(1) {
            Some(b'k') => Upgrade::Accept {
                protocol: None,
                tag: u64::from(request.path().get(2) == Some(&b'k')),
                compress: false,
            },
            _ => Upgrade::Decline,
        }
    }

    fn on_message(&self, message: Message<'_>, socket: &mut WebSocket<'_, Local>) {
        for _ in 0..=socket.tag() {
            let _ = match message {
                Message::Text(text) => socket.send_text(text),
                Message::Binary(data) => socket.send_binary(data),
                _ => Ok(()),
            };
        }
    }

    fn body_policy(&self, request: &Request<'_>) -> BodyPolicy {
        match request.path().get(1) {
            Some(b's') => BodyPolicy::Stream,
            Some(b'i') => BodyPolicy::Ignore,
            _ => BodyPolicy::Buffer,
        }
    }

    fn body_chunk(&self, _: &Request<'_>, chunk: &[u8], tag: &mut u64, local: &mut Local) {
        assert!(!chunk.is_empty(), "body_chunk with no bytes");
        local.streamed += chunk.len() as u64;
        *tag += 1;
    }

    fn fill_body(&self, tag: &mut u64, buf: &mut [u8], _: &mut Local) -> Fill {
        if *tag >= STALL {
            *tag -= STALL;
            return Fill::More(0);
        }
        let n = (*tag).min(buf.len() as u64).min(700) as usize;
        buf[..n].fill(b'z');
        *tag -= n as u64;
        if *tag == 0 {
            Fill::Done(n)
        } else {
            Fill::More(n)
        }
    }
}

/// The backend.
struct Driver {
    conn: Conn,
    bufs: Box<Bufs>,
    local: Local,
    counters: Counters,
    now: u64,
    pending: Vec<u8>,
    eof: bool,
    eof_reported: bool,
    /// Bytes one write may move (`usize::MAX`: all); 0 blocks.
    write_budget: usize,
    writes_per_round: usize,
    scribble: bool,
    written: u64,
    first_bytes: Vec<u8>,
}

impl Driver {
    fn env<'e>(local: &'e mut Local, counters: &'e mut Counters, now: u64) -> Env<'e, Fuzz, Local> {
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
        if self.conn.is_closed() || self.conn.is_hijacked() {
            return false;
        }
        let written = match self.conn.poll_transmit(&self.bufs) {
            Transmit::Idle => return false,
            Transmit::Write(slices) => {
                let slices: Vec<&[u8]> = slices.take(8).collect();
                let offered: usize = slices.iter().map(|s| s.len()).sum();
                assert!(offered > 0, "empty write offered");
                if self.write_budget == 0 {
                    return false;
                }
                let n = offered.min(self.write_budget);
                let mut left = 16usize.saturating_sub(self.first_bytes.len());
                for slice in &slices {
                    let take = slice.len().min(left);
                    self.first_bytes.extend_from_slice(&slice[..take]);
                    left -= take;
                }
                n
            }
            Transmit::SendFile(region) => {
                assert!(region.len() > 0, "empty sendfile offered");
                if self.write_budget == 0 {
                    return false;
                }
                region.len().min(self.write_budget as u64) as usize
            }
            Transmit::CloseWrite => {
                self.conn
                    .handle_write_closed(&mut Self::env(&mut self.local, &mut self.counters, self.now));
                return true;
            }
        };
        self.written += written as u64;
        self.conn.handle_written(
            written,
            &mut self.bufs,
            &mut Self::env(&mut self.local, &mut self.counters, self.now),
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
                    .handle_read_closed(&mut Self::env(&mut self.local, &mut self.counters, self.now));
                return true;
            }
            return false;
        }
        if self.scribble && !self.conn.holds_buffers() {
            self.bufs.read.fill(0xa5);
            self.bufs.write.fill(0x5a);
        }
        let space = self.conn.read_buf(&mut self.bufs);
        assert!(!space.is_empty(), "wants to read into no room");
        let n = space.len().min(self.pending.len());
        space[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.conn.handle_read(
            n,
            &mut self.bufs,
            &mut Self::env(&mut self.local, &mut self.counters, self.now),
        );
        true
    }

    /// Reads, writes and polls until nothing more happens.
    fn pump(&mut self) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            let mut writes = 0;
            while writes < self.writes_per_round && self.write_once() {
                progress = true;
                writes += 1;
            }
            if self.conn.has_work() {
                self.conn.poll(
                    &mut self.bufs,
                    &mut Self::env(&mut self.local, &mut self.counters, self.now),
                );
                progress = true;
            }
            progress |= self.read_once();
            if !progress && self.conn.poll_timeout().is_some_and(|d| d <= self.now) {
                // Due (a deadline may fall due while masked by another):
                // the backend's timer fires at once.
                self.conn.handle_timeout(
                    &mut self.bufs,
                    &mut Self::env(&mut self.local, &mut self.counters, self.now),
                );
                assert!(
                    self.conn.poll_timeout().is_none_or(|d| d > self.now),
                    "handle_timeout leaves the deadline due"
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

    /// Moves the clock to `target`, firing every deadline on the way at
    /// its time.
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

    /// What a backend relies on.
    fn check(&self) {
        let conn = &self.conn;
        if conn.is_closed() {
            assert_eq!(conn.interest(), Default::default());
            assert_eq!(conn.poll_timeout(), None);
            return;
        }
        if conn.is_hijacked() {
            assert_eq!(conn.poll_timeout(), None);
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
            interest.read || interest.write || conn.has_work() || conn.poll_timeout().is_some(),
            "waits for nothing"
        );
        // An idle connection has a timer that ends its idleness: the
        // first request's header timer, or the idle timer.
        if conn.is_idle() {
            assert!(
                conn.timer(TimerKind::Idle).is_some() || conn.timer(TimerKind::Header).is_some(),
                "idle with no timer"
            );
        }
        // The deadline is the earliest timer of the table.
        let earliest = TimerKind::ALL
            .iter()
            .filter_map(|&kind| conn.timer(kind))
            .min();
        assert_eq!(conn.poll_timeout(), earliest);
        // A connection neither closed nor handed over waits for the socket
        // or has work; waiting only for a timer would be a stall.
        assert!(
            interest.read || interest.write || conn.has_work(),
            "waits only for its deadline {:?}",
            conn.poll_timeout()
        );
        if !self.first_bytes.is_empty() {
            let n = self.first_bytes.len().min(9);
            assert_eq!(&self.first_bytes[..n], &b"HTTP/1.1 "[..n]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let tight = head & 1 == 1;
    let schedule_len = usize::from(head >> 1).min(rest.len());
    let (schedule, mut input) = rest.split_at(schedule_len);
    let config = if tight {
        Config {
            max_body_len: 64,
            max_target_len: 32,
            max_requests: 3,
            max_requests_per_wakeup: 2,
            websocket_ping_interval: 1_000,
            websocket_idle_timeout: 3_000,
            websocket_backpressure: Backpressure::Drop,
            ..Config::DEFAULT
        }
    } else {
        Config::DEFAULT
    };
    let mut driver = Driver {
        conn: Conn::new(config, None, 0),
        bufs: Box::new(Bufs::new()),
        local: Local::default(),
        counters: Counters::default(),
        now: 0,
        pending: Vec::new(),
        eof: false,
        eof_reported: false,
        write_budget: usize::MAX,
        writes_per_round: usize::MAX,
        scribble: false,
        written: 0,
        first_bytes: Vec::new(),
    };
    driver.check();

    for &op in schedule {
        let arg = usize::from(op >> 3);
        match op & 7 {
            // Bytes arrive: 1 to 962 of them.
            0..=2 => {
                let n = (arg * arg + 1).min(input.len());
                driver.pending.extend_from_slice(&input[..n]);
                input = &input[n..];
                driver.pump();
            }
            // How much each write moves: 0 (the peer does not read), 4 to
            // 3600 bytes, or everything.
            3 => {
                driver.write_budget = if arg == 31 { usize::MAX } else { arg * arg * 4 };
                driver.pump();
            }
            // The clock jumps, up to ~90 s.
            4 => {
                let target = driver.now + (arg as u64).pow(3) * 3;
                driver.advance_to(target);
            }
            // The peer shuts its write side.
            5 => {
                driver.eof = true;
                driver.pump();
            }
            6 => driver.writes_per_round = if arg >= 16 { usize::MAX } else { arg % 4 + 1 },
            _ => driver.scribble = !driver.scribble,
        }
    }

    // The rest arrives, the peer reads everything and then closes: the
    // connection must finish, on its own or by its deadlines.
    driver.pending.extend_from_slice(input);
    driver.write_budget = usize::MAX;
    driver.writes_per_round = usize::MAX;
    driver.pump();
    driver.eof = true;
    for _ in 0..64 {
        driver.pump();
        if driver.conn.is_closed() || driver.conn.is_hijacked() {
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
