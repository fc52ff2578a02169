//! The class predicates against the RFC grammar, written out again here, and
//! every scanner and block test against them, from any index.

use super::*;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use std::vec::Vec;

/// RFC 9110 §5.5: `field-value = *( field-vchar / SP / HTAB )`,
/// `field-vchar = VCHAR / obs-text`.
fn spec_value(b: u8) -> bool {
    b == 0x09 || b == 0x20 || (0x21..=0x7E).contains(&b) || (0x80..=0xFF).contains(&b)
}

/// RFC 9112 §3.2: the request-target is visible ASCII, no whitespace.
fn spec_target(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

/// RFC 9110 §5.6.2: ``tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+"
/// / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA``.
fn spec_tchar(b: u8) -> bool {
    b"!#$%&'*+-.^_`|~".contains(&b) || b.is_ascii_digit() || b.is_ascii_alphabetic()
}

/// Where the usual tchar bytes the token block test knows stop: ALPHA,
/// DIGIT and `-`.
fn usual_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// RFC 3986 §3.2.2: the bytes of a reg-name that host names and IPv4
/// addresses use, ALPHA, DIGIT, `-` and `.` (the rest of a reg-name is
/// left to the `Host` check's table).
fn spec_host(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// A scanner: where the run starting at the index ends.
type End = fn(&[u8], usize) -> usize;
/// A block test: where the run of its class starting at the index ends,
/// `None` for inputs shorter than a block.
type Block = fn(&[u8], usize) -> Option<usize>;
/// A block test by name, with its block size.
type Engine = (&'static str, Block, usize);

/// One byte class and every way of scanning it.
struct Class {
    /// For messages.
    name: &'static str,
    /// The definition, from the RFC.
    spec: fn(u8) -> bool,
    /// The `is_*` predicate under test.
    is: fn(u8) -> bool,
    /// The public scanner.
    end: End,
    /// The reference run.
    scalar: fn(&[u8]) -> usize,
    /// The block class.
    block_class: u8,
    /// The block class's definition: the class itself but for tokens.
    block_spec: fn(u8) -> bool,
}

/// Field values.
const VALUE_CLASS: Class = Class {
    name: "value",
    spec: spec_value,
    is: is_value_byte,
    end: value_end,
    scalar: scalar::value_run,
    block_class: VALUE,
    block_spec: spec_value,
};
/// Request-targets.
const TARGET_CLASS: Class = Class {
    name: "target",
    spec: spec_target,
    is: is_target_byte,
    end: target_end,
    scalar: scalar::target_run,
    block_class: TARGET,
    block_spec: spec_target,
};
/// Tokens.
const TOKEN_CLASS: Class = Class {
    name: "token",
    spec: spec_tchar,
    is: is_tchar,
    end: token_end,
    scalar: scalar::token_run,
    block_class: TOKEN,
    block_spec: usual_tchar,
};
/// The usual bytes of a host.
const HOST_CLASS: Class = Class {
    name: "host",
    spec: spec_host,
    is: is_host_byte,
    end: host_end,
    scalar: scalar::host_run,
    block_class: HOST,
    block_spec: spec_host,
};
/// All of them.
const CLASSES: [&Class; 4] = [&VALUE_CLASS, &TARGET_CLASS, &TOKEN_CLASS, &HOST_CLASS];

/// The AVX2 block test on its own; only where the CPU has AVX2.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn avx2_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    assert!(std::is_x86_feature_detected!("avx2"));
    // SAFETY: the CPU supports AVX2, as just asserted.
    unsafe { x86::avx2::run_end::<CLASS>(bytes, from) }
}

/// The x86-64 dispatch as with `std`: SSE2 first, then AVX2 if detected.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn detected_end<const CLASS: u8>(bytes: &[u8], from: usize) -> Option<usize> {
    // SAFETY: the detection macro answers true only if the CPU has AVX2.
    unsafe { x86::run_end_with::<CLASS>(bytes, from, || std::is_x86_feature_detected!("avx2")) }
}

/// Every block test this machine can run for the block class `CLASS`.
fn engines_for<const CLASS: u8>() -> Vec<Engine> {
    let mut engines: Vec<Engine> = std::vec![("swar", swar::run_end::<CLASS>, 8)];
    engines.extend(x86_engines::<CLASS>());
    engines
}

/// The x86-64 block tests this machine can run, as [`engines_for`] lists
/// them.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn x86_engines<const CLASS: u8>() -> Vec<Engine> {
    let mut engines: Vec<Engine> = std::vec![
        ("sse2", x86::sse2::run_end::<CLASS>, 16),
        ("dispatch", x86::run_end::<CLASS>, 16),
        (
            "dispatch, without AVX2",
            |bytes, from| {
                // SAFETY: claiming no AVX2 is always sound.
                unsafe { x86::run_end_with::<CLASS>(bytes, from, || false) }
            },
            16
        ),
    ];
    if std::is_x86_feature_detected!("avx2") {
        engines.push(("avx2", avx2_end::<CLASS>, 16));
        engines.push(("dispatch, detected AVX2", detected_end::<CLASS>, 16));
    }
    engines
}

/// No x86-64 block tests in this build.
#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
)))]
fn x86_engines<const CLASS: u8>() -> Vec<Engine> {
    Vec::new()
}

/// The block tests for `class`.
fn engines(class: &Class) -> Vec<Engine> {
    match class.block_class {
        VALUE => engines_for::<VALUE>(),
        TARGET => engines_for::<TARGET>(),
        HOST => engines_for::<HOST>(),
        _ => engines_for::<TOKEN>(),
    }
}

/// Index of the first byte at or after `from` outside `class`, or the
/// length.
fn first_outside(class: fn(u8) -> bool, bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !class(b))
        .map_or(bytes.len(), |n| from + n)
}

/// Checks every way of scanning `bytes` in `class` from `from`: the
/// scanner and the scalar run against the RFC, every block test against
/// its class's definition.
fn check(class: &Class, engines: &[Engine], bytes: &[u8], from: usize) {
    let name = class.name;
    let expected = first_outside(class.spec, bytes, from);
    assert_eq!(
        from + (class.scalar)(&bytes[from..]),
        expected,
        "{name} scalar from {from} on {bytes:02x?}"
    );
    assert_eq!(
        (class.end)(bytes, from),
        expected,
        "{name} from {from} on {bytes:02x?}"
    );
    let block_expected = first_outside(class.block_spec, bytes, from);
    for &(engine, block, block_len) in engines {
        let got = block(bytes, from);
        let want = (bytes.len() >= block_len).then_some(block_expected);
        assert_eq!(got, want, "{name} {engine} from {from} on {bytes:02x?}");
    }
}

/// [`check`] from the first and the last 20 indexes, and every one between
/// for inputs up to 48 bytes.
fn check_from_many(class: &Class, engines: &[Engine], bytes: &[u8]) {
    let len = bytes.len();
    for from in 0..=len {
        if from <= 20 || len - from <= 20 || len <= 48 {
            check(class, engines, bytes, from);
        }
    }
}

#[test]
fn predicates_match_the_rfc_for_every_byte() {
    for class in CLASSES {
        for b in 0..=255u8 {
            let valid = (class.spec)(b);
            assert_eq!((class.is)(b), valid, "{} {b:#04x}", class.name);
            assert_eq!(
                (class.end)(&[b], 0),
                usize::from(valid),
                "{} {b:#04x}",
                class.name
            );
            assert_eq!(
                (class.scalar)(&[b]),
                usize::from(valid),
                "{} {b:#04x}",
                class.name
            );
        }
    }
}

#[test]
fn predicates_are_const() {
    const CHECKS: [bool; 8] = [
        is_tchar(b'!'),
        !is_tchar(b':'),
        is_value_byte(b'\t'),
        !is_value_byte(0x7F),
        is_target_byte(b'~'),
        !is_target_byte(b' '),
        is_host_byte(b'.'),
        !is_host_byte(b'_'),
    ];
    assert!(CHECKS.iter().all(|&ok| ok));
}

#[test]
fn empty_input() {
    for class in CLASSES {
        check(class, &engines(class), b"", 0);
    }
    assert_eq!(value_run(b""), 0);
    assert_eq!(token_run(b""), 0);
}

/// Every byte value at every position of a valid 80-byte run, scanned from
/// the start, from halfway to it and from it: covers several SWAR, SSE2 and
/// AVX2 blocks and the overlapping tail block.
#[test]
fn every_byte_at_every_position() {
    const LEN: usize = 80;
    for class in CLASSES {
        let engines = engines(class);
        let valid: Vec<u8> = (0..=255).filter(|&b| (class.spec)(b)).collect();
        for b in 0..=255u8 {
            for pos in 0..LEN {
                let mut bytes: Vec<u8> = (0..LEN)
                    .map(|i| valid[(i * 7 + b as usize) % valid.len()])
                    .collect();
                bytes[pos] = b;
                for from in [0, pos / 2, pos] {
                    check(class, &engines, &bytes, from);
                }
            }
        }
    }
}

/// For every length up to 300 and every position, a single invalid byte
/// stops the run exactly there, from the start and from just before it,
/// and a run with none reaches the end.
#[test]
fn single_invalid_byte_at_every_position() {
    let cases: [(&Class, &[u8]); 4] = [
        (&VALUE_CLASS, &[0x00, 0x0A, 0x0D, 0x1F, 0x7F]),
        (&TARGET_CLASS, &[0x00, 0x09, 0x0D, 0x20, 0x7F, 0x80, 0xFF]),
        (&TOKEN_CLASS, &[0x00, 0x20, b'"', b',', b':', 0x7F, 0x80]),
        (
            &HOST_CLASS,
            &[
                0x00, 0x20, b',', b'/', b':', b'@', b'_', b'%', 0x7F, 0xAE, 0xAD,
            ],
        ),
    ];
    for (class, invalid) in cases {
        let engines = engines(class);
        // HTAB is valid in values, so it appears in their filler.
        let valid: Vec<u8> = (0..=255).filter(|&b| (class.spec)(b)).collect();
        for len in 0..=300 {
            let filler: Vec<u8> = (0..len)
                .map(|i| valid[(i * 31 + len) % valid.len()])
                .collect();
            check_from_many(class, &engines, &filler);
            for pos in 0..len {
                for &bad in invalid {
                    let mut bytes = filler.clone();
                    bytes[pos] = bad;
                    for from in [0, pos.saturating_sub(1), pos] {
                        check(class, &engines, &bytes, from);
                    }
                }
            }
        }
    }
}

/// Bytes of `class`, then bytes biased towards runs of the class with an
/// arbitrary or invalid byte spliced in somewhere.
fn input(class: &Class) -> impl Strategy<Value = Vec<u8>> + use<> {
    let valid: Vec<u8> = (0..=255).filter(|&b| (class.spec)(b)).collect();
    let invalid: Vec<u8> = (0..=255).filter(|&b| !(class.spec)(b)).collect();
    let run = proptest::collection::vec(select(valid), 0..600);
    let odd_byte = prop_oneof![any::<u8>(), select(invalid)];
    let splices = proptest::collection::vec((any::<Index>(), odd_byte), 1..4);
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..600),
        1 => run.clone(),
        6 => (run, splices).prop_map(|(mut bytes, splices)| {
            for (at, b) in splices {
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, b);
            }
            bytes
        }),
    ]
}

/// Checks `bytes` in `class` with every start below 16 cut off, from many
/// indexes.
fn check_offsets(class: &Class, bytes: &[u8]) {
    let engines = engines(class);
    for start in 0..16.min(bytes.len() + 1) {
        check_from_many(class, &engines, &bytes[start..]);
    }
}

/// The end of a usual `Host` value by its definition: within the `block`
/// bytes from `from`, a CR, before it ALPHA, DIGIT, `-` and `.`, then
/// perhaps `:` and digits.
fn spec_usual_host_value_end(bytes: &[u8], from: usize, block: usize) -> Option<usize> {
    let window = bytes.get(from..)?.get(..block)?;
    let end = window.iter().position(|&b| b == b'\r')?;
    let value = &window[..end];
    let (host, port) = match value.iter().position(|&b| b == b':') {
        Some(colon) => (&value[..colon], &value[colon + 1..]),
        None => (value, &[][..]),
    };
    let usual = host.iter().all(|&b| spec_host(b)) && port.iter().all(u8::is_ascii_digit);
    usual.then_some(from + end)
}

/// Checks the usual `Host` value's end from every index of `bytes`: on
/// x86-64 exactly the definition over 16 bytes; elsewhere never an answer
/// (the general path does the work).
fn check_usual_host_value_end(bytes: &[u8]) {
    let exact = cfg!(all(
        target_arch = "x86_64",
        target_feature = "sse2",
        not(peregrine_disable_simd)
    ));
    for from in 0..=bytes.len() {
        let got = usual_host_value_end(bytes, from);
        let expected = spec_usual_host_value_end(bytes, from, 16).filter(|_| exact);
        assert_eq!(got, expected, "from {from} in {:?}", bytes.escape_ascii());
    }
}

#[test]
fn usual_host_values_end_at_their_cr() {
    let templates: [&[u8]; 6] = [
        b"127.0.0.1:18180\r\nConnection: keep-alive\r\n\r\n",
        b"www.example.com\r\n\r\n",
        b"a\r\n\r\nxxxxxxxxxxxxxxxx",
        b"\r\nxxxxxxxxxxxxxxxxxxxxx",
        b":80\r\nxxxxxxxxxxxxxxxxxxxx",
        b"a-b.c:\r\nxxxxxxxxxxxxxxxxx",
    ];
    for template in templates {
        check_usual_host_value_end(template);
        // Every byte at every place of the value and just after it.
        for at in 0..18.min(template.len()) {
            for byte in 0..=255u8 {
                let mut bytes = template.to_vec();
                bytes[at] = byte;
                check_usual_host_value_end(&bytes);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn usual_host_value_ends_agree_with_the_definition(
        bytes in proptest::collection::vec(
            select(&b"az09AZ-.:_@ %[]\r\n\x80\xff"[..]),
            0..48,
        ),
    ) {
        check_usual_host_value_end(&bytes);
    }

    #[test]
    fn value_fast_paths_agree_with_scalar(bytes in input(&VALUE_CLASS)) {
        check_offsets(&VALUE_CLASS, &bytes);
    }

    #[test]
    fn target_fast_paths_agree_with_scalar(bytes in input(&TARGET_CLASS)) {
        check_offsets(&TARGET_CLASS, &bytes);
    }

    #[test]
    fn token_fast_paths_agree_with_scalar(bytes in input(&TOKEN_CLASS)) {
        check_offsets(&TOKEN_CLASS, &bytes);
    }

    #[test]
    fn host_fast_paths_agree_with_scalar(bytes in input(&HOST_CLASS)) {
        check_offsets(&HOST_CLASS, &bytes);
    }
}
