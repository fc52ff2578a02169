//! HPACK through the public API: encoder to decoder over generated
//! connections (field lists, table size changes between blocks), with the
//! decoder's table checked against the encoder's after every block, and a
//! second decoder with tight limits that must fail cleanly yet keep its
//! table in step. An ignored test measures decoding speed.

use std::time::Instant;

use peregrine_core::h2::hpack::{
    DecodeError, Decoder, DynamicTable, Encoder, HeaderField, Sensitivity,
};
use proptest::prelude::*;

/// Names that exercise every path: static with and without values,
/// never-indexed and not-indexed by policy, custom ones that repeat.
const NAMES: &[&[u8]] = &[
    b":status",
    b":method",
    b":path",
    b":authority",
    b"accept-encoding",
    b"content-type",
    b"content-length",
    b"server",
    b"date",
    b"cache-control",
    b"vary",
    b"etag",
    b"set-cookie",
    b"cookie",
    b"authorization",
    b"x-a",
    b"x-b",
    b"x-request-id",
];

/// Values that repeat, and some that match static entries.
const VALUES: &[&[u8]] = &[
    b"",
    b"200",
    b"404",
    b"302",
    b"GET",
    b"/",
    b"gzip, deflate",
    b"text/html; charset=utf-8",
    b"peregrine",
    b"no-cache",
    b"1234",
    b"Mon, 21 Oct 2013 20:13:21 GMT",
];

/// One field as generated.
#[derive(Clone, Debug)]
struct Field {
    name: Vec<u8>,
    value: Vec<u8>,
    sensitivity: Sensitivity,
}

impl Field {
    fn header_field(&self) -> HeaderField<'_> {
        HeaderField {
            name: &self.name,
            value: &self.value,
            sensitivity: self.sensitivity,
        }
    }
}

/// What happens next on the connection.
#[derive(Clone, Debug)]
enum Step {
    /// A header block with these fields.
    Block(Vec<Field>),
    /// The decoding side advertises a new `SETTINGS_HEADER_TABLE_SIZE`,
    /// acknowledged before the next block.
    TableSize(usize),
}

fn field() -> impl Strategy<Value = Field> {
    let name = prop_oneof![
        5 => prop::sample::select(NAMES).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ];
    let value = prop_oneof![
        5 => prop::sample::select(VALUES).prop_map(<[u8]>::to_vec),
        3 => prop::collection::vec(any::<u8>(), 0..48),
        1 => prop::collection::vec(any::<u8>(), 100..600),
    ];
    let sensitivity = prop_oneof![
        6 => Just(Sensitivity::Indexable),
        1 => Just(Sensitivity::NeverIndexed),
    ];
    (name, value, sensitivity).prop_map(|(name, value, sensitivity)| Field {
        name,
        value,
        sensitivity,
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        8 => prop::collection::vec(field(), 0..14).prop_map(Step::Block),
        1 => (0..5000usize).prop_map(Step::TableSize),
        1 => prop::sample::select(&[0usize, 32, 64, 256, 4096][..]).prop_map(Step::TableSize),
    ];
    prop::collection::vec(step, 1..24)
}

/// A table's entries, owned, newest first.
fn entries<const C: usize>(table: &DynamicTable<C>) -> Vec<(Vec<u8>, Vec<u8>)> {
    table
        .iter()
        .map(|entry| (entry.name.to_vec(), entry.value.to_vec()))
        .collect()
}

/// Whether two tables hold the same entries within the same maximum size.
fn same_table<const A: usize, const B: usize>(a: &DynamicTable<A>, b: &DynamicTable<B>) -> bool {
    a.size() == b.size() && a.max_size() == b.max_size() && entries(a) == entries(b)
}

/// Runs a connection: every block encoded, decoded by a decoder with room
/// to spare and by one with `list_limit` and `out_len`.
fn run<const E: usize, const D: usize>(steps: &[Step], list_limit: usize, out_len: usize) {
    let mut encoder = Encoder::<E>::new();
    let mut decoder = Decoder::<D>::new().with_max_header_list_size(usize::MAX);
    let mut tight = Decoder::<D>::new().with_max_header_list_size(list_limit);
    // The decoding side advertises its capacity if below the default.
    let advertise = |size: usize, encoder: &mut Encoder<E>, decoders: [&mut Decoder<D>; 2]| {
        let size = size.min(D);
        encoder.set_max_table_size(size);
        for decoder in decoders {
            decoder.set_max_table_size(size);
        }
    };
    if D < 4096 {
        advertise(D, &mut encoder, [&mut decoder, &mut tight]);
    }
    let mut block = vec![0u8; 64 * 1024];
    let mut out = vec![0u8; 64 * 1024];
    let mut tight_out = vec![0u8; out_len];
    for step in steps {
        let fields = match step {
            Step::TableSize(size) => {
                advertise(*size, &mut encoder, [&mut decoder, &mut tight]);
                continue;
            }
            Step::Block(fields) => fields,
        };
        let len = encoder
            .encode_block(fields.iter().map(Field::header_field), &mut block)
            .unwrap();
        let block = &block[..len];

        let mut seen = 0;
        let decoded = decoder
            .decode(block, &mut out, |got| {
                let sent = &fields[seen];
                assert_eq!(got.name, sent.name);
                assert_eq!(got.value, sent.value);
                if sent.sensitivity == Sensitivity::NeverIndexed {
                    assert!(got.is_never_indexed());
                }
                seen += 1;
                Ok::<_, DecodeError>(())
            })
            .unwrap();
        assert_eq!(seen, fields.len());
        assert_eq!(decoded.fields, fields.len());
        assert!(same_table(decoder.table(), encoder.table()));

        // The tight decoder gets the fields or a limit error, never a
        // compression error, and its table stays in step either way.
        let mut seen = 0;
        let result = tight.decode(block, &mut tight_out, |got| {
            assert_eq!(got.name, fields[seen].name);
            assert_eq!(got.value, fields[seen].value);
            seen += 1;
            Ok::<_, DecodeError>(())
        });
        match result {
            Ok(decoded) => {
                assert_eq!(decoded.fields, fields.len());
                assert!(decoded.header_list_size <= list_limit);
            }
            Err(error) => {
                assert!(!error.is_compression_error(), "{error}");
                assert!(seen < fields.len());
            }
        }
        assert!(same_table(tight.table(), encoder.table()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn round_trip_same_capacity(steps in steps(), list_limit in 0..3000usize, out_len in 0..2000usize) {
        run::<4096, 4096>(&steps, list_limit, out_len);
    }

    #[test]
    fn round_trip_small_encoder(steps in steps(), list_limit in 0..3000usize, out_len in 0..2000usize) {
        run::<256, 4096>(&steps, list_limit, out_len);
    }

    #[test]
    fn round_trip_small_decoder(steps in steps(), list_limit in 0..3000usize, out_len in 0..2000usize) {
        run::<4096, 256>(&steps, list_limit, out_len);
    }

    #[test]
    fn round_trip_tiny_tables(steps in steps(), list_limit in 0..3000usize, out_len in 0..2000usize) {
        run::<64, 100>(&steps, list_limit, out_len);
    }
}

/// A browser's request, as a second request on a connection sends it.
fn browser_request() -> Vec<HeaderField<'static>> {
    vec![
        HeaderField::new(b":method", b"GET"),
        HeaderField::new(b":scheme", b"https"),
        HeaderField::new(b":authority", b"www.example.com"),
        HeaderField::new(b":path", b"/assets/app.3f9a1c.js"),
        HeaderField::new(
            b"user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        HeaderField::new(b"accept", b"*/*"),
        HeaderField::new(b"accept-language", b"en-US,en;q=0.5"),
        HeaderField::new(b"accept-encoding", b"gzip, deflate, br, zstd"),
        HeaderField::new(b"referer", b"https://www.example.com/"),
        HeaderField::never_indexed(b"cookie", b"session=8f2d0c9e7b6a5d4c3b2a1908"),
        HeaderField::new(b"sec-fetch-dest", b"script"),
        HeaderField::new(b"sec-fetch-mode", b"no-cors"),
    ]
}

/// Prints the time to decode a request: the first of a connection (all
/// literals, Huffman-coded) and a later one (mostly indexed). Run with
/// `cargo test --release -p peregrine-core --test hpack -- --ignored
/// --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn decode_speed() {
    let fields = browser_request();
    let mut encoder = Encoder::<4096>::new();
    let mut first = [0u8; 1024];
    let first_len = encoder
        .encode_block(fields.iter().copied(), &mut first)
        .unwrap();
    let mut later = [0u8; 1024];
    let later_len = encoder
        .encode_block(fields.iter().copied(), &mut later)
        .unwrap();
    let mut primed = Decoder::<4096>::new();
    let mut out = [0u8; 4096];
    primed
        .decode(&first[..first_len], &mut out, |_| Ok::<_, DecodeError>(()))
        .unwrap();

    const ROUNDS: u32 = 100_000;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let mut decoder = Decoder::<4096>::new();
        let decoded = decoder.decode(&first[..first_len], &mut out, |_| Ok::<_, DecodeError>(()));
        std::hint::black_box(decoded.unwrap());
    }
    let first_ns = started.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
    // The decoder's table does not change when every field is indexed or
    // not indexed; `later` inserts nothing.
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let decoded = primed.decode(&later[..later_len], &mut out, |_| Ok::<_, DecodeError>(()));
        std::hint::black_box(decoded.unwrap());
    }
    let later_ns = started.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
    let count = fields.len() as f64;
    println!(
        "first request: {first_len} bytes, {first_ns:.0} ns, {:.1} ns a field (with a new decoder)",
        first_ns / count
    );
    println!(
        "later request: {later_len} bytes, {later_ns:.0} ns, {:.1} ns a field",
        later_ns / count
    );
}
