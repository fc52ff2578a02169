//! The load client of `bench/ws-deflate.sh`: `--conns` WebSocket
//! connections to an echo server, each sending the next message as soon as
//! the echo of the previous one is back, for `--warmup` and then
//! `--duration` seconds, on one thread (mio). Prints what it measured over
//! the second period as one `result` line: round trips per second, and the
//! server's CPU time per round trip (`--pid`: utime + stime of that
//! process, every thread included, from `/proc/PID/stat`).
//!
//! The messages are `--messages` different JSON-like texts of `--size`
//! bytes, made from a fixed seed (the same every run), compressible about
//! 5:1 by zlib at its default level, 6 (4.6:1 at level 3; the ratios at
//! levels 1, 3 and 6 are printed first). With
//! `--deflate` the client offers permessage-deflate without context
//! takeover both ways, and fails unless the server agrees. Each message is
//! compressed and masked once, before the run: a connection sends the same
//! bytes every time it sends that message, so the client spends nothing on
//! compression during the run. Echoes are parsed whole; the first on each
//! connection and every `--verify-every`th after it are decompressed and
//! compared with what was sent (a mismatch ends the run with an error).
//!
//! ```text
//! ws-load --addr 127.0.0.1:9001 --path / --conns 100 --duration 10 --warmup 2 --deflate --pid 1234
//! ```

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// The empty block a sync flush ends with, removed on the wire (RFC 7692
/// §7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The masking key of every frame the client sends.
const MASK: [u8; 4] = [0x5a, 0xc3, 0x17, 0x9e];

/// What the command line asks for.
struct Args {
    addr: SocketAddr,
    path: String,
    conns: usize,
    duration: f64,
    warmup: f64,
    deflate: bool,
    pid: Option<u32>,
    size: usize,
    messages: usize,
    verify_every: u64,
}

fn usage(problem: &str) -> ! {
    eprintln!("ws-load: {problem}");
    eprintln!(
        "usage: ws-load --addr HOST:PORT [--path /] [--conns 100] [--duration 10] [--warmup 2] \
         [--deflate] [--pid PID] [--size 16384] [--messages 64] [--verify-every 64]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:9001".parse().unwrap(),
        path: "/".into(),
        conns: 100,
        duration: 10.0,
        warmup: 2.0,
        deflate: false,
        pid: None,
        size: 16 << 10,
        messages: 64,
        verify_every: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> T {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{name}: not a number: {v}")))
        }
        match arg.as_str() {
            "--addr" => {
                let v = value();
                args.addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not HOST:PORT: {v}")));
            }
            "--path" => args.path = value(),
            "--conns" => args.conns = num("--conns", value()),
            "--duration" => args.duration = num("--duration", value()),
            "--warmup" => args.warmup = num("--warmup", value()),
            "--deflate" => args.deflate = true,
            "--pid" => args.pid = Some(num("--pid", value())),
            "--size" => args.size = num("--size", value()),
            "--messages" => args.messages = num("--messages", value()),
            "--verify-every" => args.verify_every = num("--verify-every", value()),
            other => usage(&format!("unknown option {other}")),
        }
    }
    if args.conns == 0 || args.messages == 0 || args.size < 64 || args.verify_every == 0 {
        usage("--conns, --messages and --verify-every must be positive, --size at least 64");
    }
    args
}

/// A small fast generator (xorshift64*), seeded: the messages are the same
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A JSON-like text of exactly `size` bytes: an array of order records
/// whose field names repeat and whose values vary, as an API's or a
/// market feed's updates do (about 5:1 under zlib).
fn json_message(rng: &mut Rng, size: usize) -> Vec<u8> {
    const USERS: [&str; 8] = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    const SIDES: [&str; 2] = ["buy", "sell"];
    const SYMBOLS: [&str; 6] = ["BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "AAPL", "MSFT"];
    let mut out = String::with_capacity(size + 256);
    out.push('[');
    while out.len() < size {
        let record = format!(
            "{{\"id\":{},\"user\":\"{}\",\"side\":\"{}\",\"symbol\":\"{}\",\"price\":{}.{:02},\
             \"qty\":{},\"ts\":{},\"ok\":{}}},",
            rng.below(10_000_000),
            USERS[rng.below(8) as usize],
            SIDES[rng.below(2) as usize],
            SYMBOLS[rng.below(6) as usize],
            rng.below(10_000),
            rng.below(100),
            rng.below(1000),
            1_765_000_000_000 + rng.below(1_000_000),
            if rng.below(2) == 0 { "true" } else { "false" },
        );
        out.push_str(&record);
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(size - 1);
    bytes.push(b']');
    bytes
}

/// `data` compressed as one permessage-deflate message: raw DEFLATE with a
/// sync flush, the tail removed.
fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut compress = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    compress
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .expect("compress");
    assert!(
        out.ends_with(&TAIL),
        "a sync flush ends with its empty block"
    );
    out.truncate(out.len() - TAIL.len());
    out
}

/// A whole text frame, masked (the RSV1 bit set if `compressed`).
fn frame(payload: &[u8], compressed: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x81 | if compressed { 0x40 } else { 0 });
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=65535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// One connection's state.
struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet parsed.
    input: Vec<u8>,
    /// The message index whose frame is being sent or echoed.
    current: usize,
    /// Bytes of the current frame written.
    written: usize,
    /// Whether the whole frame is written and its echo awaited.
    awaiting: bool,
    /// Echoes received on this connection.
    echoes: u64,
    /// A fragmented echo being assembled (opcode 0 frames), if any.
    partial: Option<(bool, Vec<u8>)>,
}

/// What the run counts.
#[derive(Default, Clone, Copy)]
struct Totals {
    echoes: u64,
    compressed_echoes: u64,
    echo_payload_bytes: u64,
    verified: u64,
}

/// The client's view of a server: its messages, their frames, the
/// decompressor checks use.
struct Load {
    messages: Vec<Vec<u8>>,
    frames: Vec<Vec<u8>>,
    decompress: Decompress,
    scratch: Vec<u8>,
    verify_every: u64,
    totals: Totals,
}

impl Load {
    /// Handles one whole echo of `conn`'s current message.
    fn echo(&mut self, conn_echoes: u64, current: usize, rsv1: bool, payload: &[u8]) {
        self.totals.echoes += 1;
        self.totals.echo_payload_bytes += payload.len() as u64;
        if rsv1 {
            self.totals.compressed_echoes += 1;
        }
        if !conn_echoes.is_multiple_of(self.verify_every) {
            return;
        }
        let expected = &self.messages[current];
        let ok = if rsv1 {
            self.decompress.reset(false);
            self.scratch.clear();
            let mut input = Vec::with_capacity(payload.len() + 4);
            input.extend_from_slice(payload);
            input.extend_from_slice(&TAIL);
            self.decompress
                .decompress_vec(&input, &mut self.scratch, FlushDecompress::Sync)
                .is_ok()
                && self.scratch == *expected
        } else {
            payload == expected.as_slice()
        };
        if !ok {
            eprintln!(
                "ws-load: an echo differs from message {current} ({} bytes, compressed: {rsv1})",
                payload.len()
            );
            std::process::exit(1);
        }
        self.totals.verified += 1;
    }
}

/// Opens a connection and completes the handshake (blocking), checking
/// that compression was agreed as asked.
fn connect(args: &Args) -> io::Result<TcpStream> {
    let mut stream = StdStream::connect(args.addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        args.path, args.addr
    );
    if args.deflate {
        head.push_str(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\n",
        );
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut response = Vec::new();
    let mut byte = [0];
    while !response.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        response.push(byte[0]);
    }
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    if !response.starts_with("http/1.1 101") {
        return Err(io::Error::other(format!("handshake refused: {response}")));
    }
    let extensions = response
        .lines()
        .find(|line| line.starts_with("sec-websocket-extensions:"))
        .unwrap_or("");
    let agreed = extensions.contains("permessage-deflate");
    if agreed != args.deflate {
        return Err(io::Error::other(format!(
            "permessage-deflate {} but {}: {response}",
            if args.deflate {
                "offered"
            } else {
                "not offered"
            },
            if agreed { "agreed" } else { "not agreed" }
        )));
    }
    // The echoes are decompressed one by one: the server must reset.
    if agreed && !extensions.contains("server_no_context_takeover") {
        return Err(io::Error::other(format!(
            "the server keeps its context: {response}"
        )));
    }
    stream.set_nonblocking(true)?;
    Ok(TcpStream::from_std(stream))
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/stat: {e}"));
    let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / hz as f64
}

/// Parses the frames in `conn.input`, handling every whole echo; returns
/// how many messages were echoed.
fn parse(conn: &mut Conn, load: &mut Load) -> io::Result<u32> {
    let mut done = 0;
    let mut pos = 0;
    loop {
        let buf = &conn.input[pos..];
        if buf.len() < 2 {
            break;
        }
        let (len, header) = match buf[1] & 0x7f {
            126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()), 10),
            126 | 127 => break,
            n => (u64::from(n), 2),
        };
        if buf[1] & 0x80 != 0 {
            return Err(io::Error::other("a masked frame from the server"));
        }
        let total = header + len as usize;
        if buf.len() < total {
            break;
        }
        let (first, payload) = (buf[0], &buf[header..total]);
        let (fin, rsv1, opcode) = (first & 0x80 != 0, first & 0x40 != 0, first & 0x0f);
        match opcode {
            0x1 | 0x2 if fin => {
                load.echo(conn.echoes, conn.current, rsv1, payload);
                done += 1;
            }
            0x1 | 0x2 => conn.partial = Some((rsv1, payload.to_vec())),
            0x0 => {
                let (rsv1, mut whole) = conn
                    .partial
                    .take()
                    .ok_or_else(|| io::Error::other("a continuation out of the blue"))?;
                whole.extend_from_slice(payload);
                if fin {
                    load.echo(conn.echoes, conn.current, rsv1, &whole);
                    done += 1;
                } else {
                    conn.partial = Some((rsv1, whole));
                }
            }
            0x8 => {
                return Err(io::Error::other(format!(
                    "closed by the server: {payload:?}"
                )));
            }
            _ => {} // Ping, Pong: none expected, none answered.
        }
        pos += total;
        if done > 0 {
            conn.echoes += 1;
            // One message in flight per connection: nothing else can follow.
            break;
        }
    }
    conn.input.drain(..pos);
    Ok(done)
}

/// Writes what is left of `conn`'s current frame; `true` once all of it is.
fn write_frame(conn: &mut Conn, frames: &[Vec<u8>]) -> io::Result<bool> {
    let frame = &frames[conn.current];
    while conn.written < frame.len() {
        match conn.stream.write(&frame[conn.written..]) {
            Ok(0) => return Err(io::Error::other("the server closed")),
            Ok(n) => conn.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.awaiting = true;
    Ok(true)
}

/// Starts `conn`'s next message.
fn next_message(conn: &mut Conn, index: usize, frames: &[Vec<u8>]) -> io::Result<()> {
    conn.current = index;
    conn.written = 0;
    conn.awaiting = false;
    write_frame(conn, frames).map(|_| ())
}

fn main() {
    let args = parse_args();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let messages: Vec<Vec<u8>> = (0..args.messages)
        .map(|_| json_message(&mut rng, args.size))
        .collect();
    let plain: usize = messages.iter().map(Vec::len).sum();
    let mut ratios = String::new();
    for level in [1, 3, 6] {
        let packed: usize = messages.iter().map(|m| deflate(m, level).len()).sum();
        ratios += &format!(" level{level}={:.2}", plain as f64 / packed as f64);
    }
    println!(
        "messages count={} size={} zlib_ratio{ratios}",
        args.messages, args.size
    );
    let frames: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            if args.deflate {
                frame(&deflate(m, 6), true)
            } else {
                frame(m, false)
            }
        })
        .collect();
    let sent_payload: usize = frames.iter().map(|f| f.len() - 8).sum::<usize>() / frames.len();

    let mut poll = Poll::new().expect("epoll");
    let mut conns = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let mut stream = connect(&args).unwrap_or_else(|e| {
            eprintln!("ws-load: connection {i}: {e}");
            std::process::exit(1);
        });
        poll.registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register");
        conns.push(Conn {
            stream,
            input: Vec::with_capacity(4 * args.size + 64),
            current: 0,
            written: 0,
            awaiting: false,
            echoes: 0,
            partial: None,
        });
    }
    let mut load = Load {
        messages,
        frames,
        decompress: Decompress::new(false),
        scratch: Vec::with_capacity(args.size + 1024),
        verify_every: args.verify_every,
        totals: Totals::default(),
    };
    // Connections start on different messages.
    for (i, conn) in conns.iter_mut().enumerate() {
        let index = i % load.frames.len();
        if let Err(e) = next_message(conn, index, &load.frames) {
            eprintln!("ws-load: connection {i}: {e}");
            std::process::exit(1);
        }
    }

    let mut events = Events::with_capacity(1024);
    let mut ready: VecDeque<usize> = VecDeque::new();
    let mut chunk = vec![0u8; 256 << 10];
    let start = Instant::now();
    let warmup_end = start + Duration::from_secs_f64(args.warmup);
    let end = warmup_end + Duration::from_secs_f64(args.duration);
    let mut window: Option<(Instant, Totals, f64)> = None;
    let mut failures = 0u64;
    loop {
        let now = Instant::now();
        if window.is_none() && now >= warmup_end {
            let cpu = args.pid.map_or(0.0, cpu_seconds);
            window = Some((now, load.totals, cpu));
        }
        if now >= end {
            break;
        }
        let wait = if window.is_none() { warmup_end } else { end } - now;
        poll.poll(&mut events, Some(wait.min(Duration::from_millis(100))))
            .expect("poll");
        for event in &events {
            ready.push_back(event.token().0);
        }
        while let Some(i) = ready.pop_front() {
            let conn = &mut conns[i];
            if !conn.awaiting {
                match write_frame(conn, &load.frames) {
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("ws-load: connection {i}: {e}");
                        failures += 1;
                        continue;
                    }
                }
            }
            // Read until the socket is drained.
            loop {
                match conn.stream.read(&mut chunk) {
                    Ok(0) => {
                        eprintln!("ws-load: connection {i}: closed by the server");
                        failures += 1;
                        break;
                    }
                    Ok(n) => {
                        conn.input.extend_from_slice(&chunk[..n]);
                        match parse(conn, &mut load) {
                            Ok(0) => {}
                            Ok(_) => {
                                let next = (conn.current + 1) % load.frames.len();
                                if let Err(e) = next_message(conn, next, &load.frames) {
                                    eprintln!("ws-load: connection {i}: {e}");
                                    failures += 1;
                                    break;
                                }
                            }
                            Err(e) => {
                                eprintln!("ws-load: connection {i}: {e}");
                                failures += 1;
                                break;
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        eprintln!("ws-load: connection {i}: {e}");
                        failures += 1;
                        break;
                    }
                }
            }
        }
        if failures > 0 {
            std::process::exit(1);
        }
    }
    let (t0, before, cpu0) = window.expect("the run outlasted its warm-up");
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = args.pid.map_or(0.0, cpu_seconds) - cpu0;
    let echoes = load.totals.echoes - before.echoes;
    let compressed = load.totals.compressed_echoes - before.compressed_echoes;
    let bytes = load.totals.echo_payload_bytes - before.echo_payload_bytes;
    if echoes == 0 {
        eprintln!("ws-load: no echo in the measured window");
        std::process::exit(1);
    }
    println!(
        "result conns={} seconds={:.3} echoes={} msgs_per_s={:.1} server_cpu_s={:.3} \
         cpu_us_per_msg={:.2} compressed_echoes={} sent_payload={} echo_payload={:.0} verified={}",
        args.conns,
        seconds,
        echoes,
        echoes as f64 / seconds,
        cpu,
        cpu * 1e6 / echoes as f64,
        compressed,
        sent_payload,
        bytes as f64 / echoes as f64,
        load.totals.verified,
    );
}
