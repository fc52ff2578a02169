//! The class predicates against the RFC grammar, written out again here, and
//! every fast path against the byte-at-a-time definitions.

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

/// A run function: how many leading bytes are in the class.
type Run = fn(&[u8]) -> usize;
/// A fast path: the length of a prefix known to be in the class.
type Prefix = fn(&[u8]) -> usize;
/// A fast path by name, with the shortest input it skips anything in.
type Engine = (&'static str, Prefix, usize);

/// One byte class and every way of scanning it.
struct Class {
    /// For messages.
    name: &'static str,
    /// The definition, from the RFC.
    spec: fn(u8) -> bool,
    /// The `is_*` predicate under test.
    is: fn(u8) -> bool,
    /// The public run.
    run: Run,
    /// The reference run.
    scalar: Run,
    /// The fast-path class, or `None` for tokens (no block fast path).
    fast_class: Option<u8>,
}

/// Field values.
const VALUE_CLASS: Class = Class {
    name: "value",
    spec: spec_value,
    is: is_value_byte,
    run: value_run,
    scalar: scalar::value_run,
    fast_class: Some(VALUE),
};
/// Request-targets.
const TARGET_CLASS: Class = Class {
    name: "target",
    spec: spec_target,
    is: is_target_byte,
    run: target_run,
    scalar: scalar::target_run,
    fast_class: Some(TARGET),
};
/// Tokens.
const TOKEN_CLASS: Class = Class {
    name: "token",
    spec: spec_tchar,
    is: is_tchar,
    run: token_run,
    scalar: scalar::token_run,
    fast_class: None,
};
/// All of them.
const CLASSES: [&Class; 3] = [&VALUE_CLASS, &TARGET_CLASS, &TOKEN_CLASS];

/// The AVX2 fast path on its own; only where the CPU has AVX2.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn avx2_prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    assert!(std::is_x86_feature_detected!("avx2"));
    // SAFETY: the CPU supports AVX2, as just asserted.
    unsafe { x86::avx2::prefix_from::<CLASS>(bytes, 0) }
}

/// The x86-64 dispatch as with `std`: SSE2 first, then AVX2 if detected.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn detected_prefix<const CLASS: u8>(bytes: &[u8]) -> usize {
    // SAFETY: the detection macro answers true only if the CPU has AVX2.
    unsafe { x86::prefix_with::<CLASS>(bytes, || std::is_x86_feature_detected!("avx2")) }
}

/// Every fast path this machine can run for the fast-path class `CLASS`.
fn engines_for<const CLASS: u8>() -> Vec<Engine> {
    let mut engines: Vec<Engine> = std::vec![("swar", swar::prefix::<CLASS>, 8)];
    engines.extend(x86_engines::<CLASS>());
    engines
}

/// The x86-64 fast paths this machine can run, as [`engines_for`] lists them.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
))]
fn x86_engines<const CLASS: u8>() -> Vec<Engine> {
    let mut engines: Vec<Engine> = std::vec![
        (
            "sse2",
            |bytes| x86::sse2::prefix_from::<CLASS>(bytes, 0),
            16
        ),
        ("dispatch", x86::prefix::<CLASS>, 16),
        (
            "dispatch, without AVX2",
            |bytes| {
                // SAFETY: claiming no AVX2 is always sound.
                unsafe { x86::prefix_with::<CLASS>(bytes, || false) }
            },
            16
        ),
    ];
    if std::is_x86_feature_detected!("avx2") {
        engines.push(("avx2", avx2_prefix::<CLASS>, 16));
        engines.push(("dispatch, detected AVX2", detected_prefix::<CLASS>, 16));
    }
    engines
}

/// No x86-64 fast paths in this build.
#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "sse2",
    not(peregrine_disable_simd)
)))]
fn x86_engines<const CLASS: u8>() -> Vec<Engine> {
    Vec::new()
}

/// The fast paths for `class`.
fn engines(class: &Class) -> Vec<Engine> {
    match class.fast_class {
        Some(VALUE) => engines_for::<VALUE>(),
        Some(TARGET) => engines_for::<TARGET>(),
        _ => Vec::new(),
    }
}

/// Checks every way of scanning `bytes` in `class` against `expected`, and
/// that every fast path skips only bytes in the class — and, once the input
/// is a block long, all the bytes it can vouch for (HTAB is left to the
/// scalar loop).
fn check(class: &Class, engines: &[Engine], bytes: &[u8], expected: usize) {
    let name = class.name;
    assert_eq!(
        (class.scalar)(bytes),
        expected,
        "{name} scalar on {bytes:02x?}"
    );
    assert_eq!((class.run)(bytes), expected, "{name} run on {bytes:02x?}");
    let fast_expected = bytes[..expected]
        .iter()
        .position(|&b| b == b'\t')
        .unwrap_or(expected);
    for &(engine, prefix, min_len) in engines {
        let known = prefix(bytes);
        assert!(
            known <= expected,
            "{name} {engine} skipped to {known} past {expected} in {bytes:02x?}"
        );
        assert_eq!(
            known + (class.scalar)(&bytes[known..]),
            expected,
            "{name} {engine} on {bytes:02x?}"
        );
        if bytes.len() >= min_len {
            assert_eq!(
                known, fast_expected,
                "{name} {engine} stopped early in {bytes:02x?}"
            );
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
                (class.run)(&[b]),
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
    const CHECKS: [bool; 6] = [
        is_tchar(b'!'),
        !is_tchar(b':'),
        is_value_byte(b'\t'),
        !is_value_byte(0x7F),
        is_target_byte(b'~'),
        !is_target_byte(b' '),
    ];
    assert!(CHECKS.iter().all(|&ok| ok));
}

#[test]
fn empty_input() {
    for class in CLASSES {
        check(class, &engines(class), b"", 0);
    }
}

/// Every byte value at every position of a valid 80-byte run: covers
/// several SWAR, SSE2 and AVX2 blocks and the overlapping tail block.
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
                let expected = if (class.spec)(b) {
                    scalar_spec(class, &bytes)
                } else {
                    pos
                };
                check(class, &engines, &bytes, expected);
            }
        }
    }
}

/// The run computed from the RFC definition.
fn scalar_spec(class: &Class, bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !(class.spec)(b))
        .unwrap_or(bytes.len())
}

/// For every length up to 300 and every position, a single invalid byte
/// stops the run exactly there, and a run with none reaches the end.
#[test]
fn single_invalid_byte_at_every_position() {
    let cases: [(&Class, &[u8]); 3] = [
        (&VALUE_CLASS, &[0x00, 0x0A, 0x0D, 0x1F, 0x7F]),
        (&TARGET_CLASS, &[0x00, 0x09, 0x0D, 0x20, 0x7F, 0x80, 0xFF]),
        (&TOKEN_CLASS, &[0x00, 0x20, b'"', b',', b':', 0x7F, 0x80]),
    ];
    for (class, invalid) in cases {
        let engines = engines(class);
        // HTAB is valid in values, so it appears in their filler.
        let valid: Vec<u8> = (0..=255).filter(|&b| (class.spec)(b)).collect();
        for len in 0..=300 {
            let filler: Vec<u8> = (0..len)
                .map(|i| valid[(i * 31 + len) % valid.len()])
                .collect();
            check(class, &engines, &filler, len);
            for pos in 0..len {
                for &bad in invalid {
                    let mut bytes = filler.clone();
                    bytes[pos] = bad;
                    check(class, &engines, &bytes, pos);
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

/// Checks `bytes` in `class` from every start offset below 16.
fn check_offsets(class: &Class, bytes: &[u8]) {
    let engines = engines(class);
    for start in 0..16.min(bytes.len() + 1) {
        let bytes = &bytes[start..];
        check(class, &engines, bytes, scalar_spec(class, bytes));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn value_fast_paths_agree_with_scalar(bytes in input(&VALUE_CLASS)) {
        check_offsets(&VALUE_CLASS, &bytes);
    }

    #[test]
    fn target_fast_paths_agree_with_scalar(bytes in input(&TARGET_CLASS)) {
        check_offsets(&TARGET_CLASS, &bytes);
    }

    #[test]
    fn token_run_agrees_with_scalar(bytes in input(&TOKEN_CLASS)) {
        check_offsets(&TOKEN_CLASS, &bytes);
    }
}
