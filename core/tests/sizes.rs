//! Connections of sizes of one's own: a `Capacity` names the buffers and
//! the header table once, and every type sized by it agrees.

use peregrine_core::h2::server::{MIN_READ, MIN_WRITE, ServerConnection};
use peregrine_core::{
    ByteArray, Capacity, Config, Connection, Counters, DefaultSizes, Env, FieldTable, Handler,
    HeaderTable, IoBuffers, Request, Response, Sizes, Transmit,
};

/// The smallest connection the core builds: a 256-byte read buffer, a
/// 1 KiB write buffer, four header fields.
type Tiny = Capacity<256, 1024, 4>;

/// Answers with the number of header fields.
struct Count;

impl Handler for Count {
    fn handle(&self, request: &Request<'_>, response: &mut Response<'_>) {
        let count = request.headers().len();
        response.body(format!("{count} fields").as_bytes()).unwrap();
    }
}

/// Sends `wire` to a fresh connection of sizes `Z` in one read and
/// returns what it answers: code generic over the sizes, as a backend's.
fn exchange<Z: Sizes>(wire: &[u8]) -> Vec<u8> {
    let mut bufs = Box::new(IoBuffers::<Z>::new());
    let mut conn = Connection::<Z>::new(Config::DEFAULT, None, 0);
    let (mut counters, mut local) = (Counters::default(), ());
    let mut env = Env::new(&Count, &mut local, 0, &mut counters);
    let room = conn.read_buf(&mut bufs);
    assert_eq!(room.len(), Z::READ);
    room[..wire.len()].copy_from_slice(wire);
    conn.handle_read(wire.len(), &mut bufs, &mut env);
    let mut out = Vec::new();
    while let Transmit::Write(slices) = conn.poll_transmit(&bufs) {
        let sent: Vec<u8> = slices
            .map(|slice| slice.to_vec())
            .collect::<Vec<_>>()
            .concat();
        conn.handle_written(sent.len(), &mut bufs, &mut env);
        out.extend(sent);
    }
    out
}

#[test]
fn the_numbers_are_the_types() {
    assert_eq!((Tiny::READ, Tiny::WRITE, Tiny::MAX_HEADERS), (256, 1024, 4));
    assert_eq!(<<Tiny as Sizes>::ReadBuffer as ByteArray>::LEN, 256);
    assert_eq!(<<Tiny as Sizes>::WriteBuffer as ByteArray>::LEN, 1024);
    assert_eq!(<<Tiny as Sizes>::Fields as FieldTable>::CAPACITY, 4);
    assert_eq!(HeaderTable::<4>::new().capacity(), 4);

    let bufs = IoBuffers::<Tiny>::new();
    assert_eq!((bufs.read.len(), bufs.write.len()), (256, 1024));
    assert_eq!(size_of::<IoBuffers<Tiny>>(), 256 + 1024);

    // The defaults, and the `Capacity` every parameter of which is left out.
    assert_eq!(
        (
            DefaultSizes::READ,
            DefaultSizes::WRITE,
            DefaultSizes::MAX_HEADERS
        ),
        (16384, 16384, 100)
    );
    assert_eq!(size_of::<Connection>(), size_of::<Connection<Capacity>>());
    assert_eq!(
        size_of::<Connection>(),
        size_of::<Connection<Capacity<16384, 16384, 100>>>()
    );
}

#[test]
fn a_tiny_connection_serves_within_its_header_table() {
    let four = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let answer = exchange::<Tiny>(four);
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(answer.ends_with(b"4 fields"));

    // A fifth field does not fit its table: 431.
    let five = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let answer = exchange::<Tiny>(five);
    assert!(
        answer.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The same request fits the defaults.
    assert!(exchange::<DefaultSizes>(five).ends_with(b"5 fields"));
}

#[test]
fn a_head_longer_than_a_tiny_read_buffer_is_refused() {
    let long = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "x".repeat(300)
    );
    assert!(exchange::<Capacity<1024, 1024, 4>>(long.as_bytes()).ends_with(b"2 fields"));
    // 256 bytes hold no such head: 431 once the buffer is full.
    let answer = exchange::<Tiny>(&long.as_bytes()[..256]);
    assert!(
        answer.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn http2_takes_the_same_sizes() {
    type Least = Capacity<MIN_READ, MIN_WRITE, 8>;
    const {
        assert!(ServerConnection::<Least>::BUFFERS_FIT);
        assert!(!ServerConnection::<Tiny>::BUFFERS_FIT);
        assert!(ServerConnection::<DefaultSizes>::BUFFERS_FIT);
    }
    let mut bufs = Box::new(IoBuffers::<Least>::new());
    let mut conn = ServerConnection::<Least, 4>::new(Config::DEFAULT, None, 0);
    assert_eq!(conn.read_buf(&mut bufs).len(), MIN_READ);
}
