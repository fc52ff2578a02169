//! Checking a `Host` field value: `uri-host [ ":" port ]` (RFC 9110 §7.2,
//! RFC 3986 §3.2.2 and §3.2.3).
//!
//! RFC 9112 §3.2 makes answering a `Host` field with an invalid value
//! `400` a MUST. The check runs on every request that has a `Host`, so the
//! request parser's fast path checks the usual value (a name or an IPv4
//! address, perhaps a port) in the scan that finds the value's end: a
//! block scan of host bytes and a digit test per byte of the port. What
//! that does not decide (escapes, the rarer reg-name bytes, IP-literals,
//! every refusal), and every head the state machine parses, is checked
//! here, out of line, with a table lookup per byte.
//!
//! What is accepted, exactly as the grammar says:
//!
//! - `host`: an IP-literal in brackets (an IPv6 address, or `v` hex `.`
//!   ... for IPvFuture), or a reg-name of unreserved characters
//!   (`A-Z a-z 0-9 - . _ ~`), sub-delims (`! $ & ' ( ) * + , ; =`) and
//!   `%` followed by two hex digits. An IPv4 address is a reg-name as far
//!   as bytes go. A reg-name may be empty.
//! - `port`: digits, possibly none (`port = *DIGIT`), after one `:`.
//!
//! So an empty value is accepted: RFC 9112 §3.2 has a client send an empty
//! `Host` when the target URI has no authority. Anything else (a space,
//! `@`, `/`, `?`, `#`, a second `:` outside brackets, a byte of `0x80` or
//! above, a port with a non-digit, an unclosed bracket, an IPv6 zone) is
//! refused.

use core::net::Ipv6Addr;

use crate::percent::hex_value;

/// Bytes of a reg-name besides `%` escapes: unreserved and sub-delims
/// (RFC 3986 §2.2, §2.3).
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        byte += 1;
    }
    table
};

/// Whether a `Host` field value (without surrounding whitespace) is
/// `uri-host [ ":" port ]`; see the module's documentation.
///
/// A table lookup per byte, out of line: the request parser's fast path
/// checks the usual values in its own scan (see `request.rs`), so this
/// runs for the others, and for heads the state machine parses.
#[cold]
#[inline(never)]
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    let mut at = 0;
    if value.first() == Some(&b'[') {
        let Some(close) = memchr::memchr(b']', value) else {
            return false;
        };
        if !is_ip_literal(&value[1..close]) {
            return false;
        }
        at = close + 1;
    } else {
        while let Some(&byte) = value.get(at) {
            if REG_NAME[byte as usize] {
                at += 1;
            } else if byte == b'%' && is_escape(value, at) {
                at += 3;
            } else {
                break;
            }
        }
    }
    match value.get(at) {
        None => true,
        Some(b':') => value[at + 1..].iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// Whether `value[at]`, a `%`, starts an escape: two hex digits follow.
#[inline]
fn is_escape(value: &[u8], at: usize) -> bool {
    let hex = |i: usize| value.get(i).is_some_and(|&b| hex_value(b).is_some());
    hex(at + 1) && hex(at + 2)
}

/// Whether `inner`, between the brackets, is an IPv6 address or an
/// IPvFuture (`"v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`).
fn is_ip_literal(inner: &[u8]) -> bool {
    if let Some(rest) = inner.strip_prefix(b"v").or(inner.strip_prefix(b"V")) {
        let Some(dot) = memchr::memchr(b'.', rest) else {
            return false;
        };
        let (version, address) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !address.is_empty()
            && address.iter().all(|&b| REG_NAME[b as usize] || b == b':');
    }
    // The standard library's parser takes exactly RFC 3986's IPv6address
    // (hex groups, one `::`, an IPv4 address at the end), without a zone.
    core::str::from_utf8(inner).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_hosts() {
        let valid: &[&[u8]] = &[
            b"",
            b"a",
            b"example.com",
            b"example.com:8080",
            b"EXAMPLE.com:80",
            b"127.0.0.1",
            b"127.0.0.1:18180",
            b"localhost:",
            b":80",
            b"a-b_c~d.e",
            b"!$&'()*+,;=",
            b"caf%C3%A9.example",
            b"%41",
            b"[::1]",
            b"[::1]:443",
            b"[2001:db8::7]:8080",
            b"[::ffff:192.0.2.1]",
            b"[FE80::1]",
            b"[v1.fe80::a+b]",
            b"[V7.x]:1",
            b"999.999.999.999",
            b"host:0123456789",
        ];
        for host in valid {
            assert!(is_valid_host(host), "{:?} refused", host.escape_ascii());
        }
    }

    #[test]
    fn invalid_hosts() {
        let invalid: &[&[u8]] = &[
            b"a b",
            b" a",
            b"a\t",
            b"user@example.com",
            b"a/b",
            b"a?b",
            b"a#b",
            b"a\\b",
            b"a:b",
            b"a:80x",
            b"a:8 0",
            b"a:-1",
            b"a:80:90",
            b"a::80",
            b"%",
            b"%4",
            b"%4g",
            b"a%zz",
            b"caf\xc3\xa9",
            b"\x7f",
            b"a\"b",
            b"<a>",
            b"a{b}",
            b"a|b",
            b"a^b",
            b"a`b",
            b"a[b]",
            b"[",
            b"[::1",
            b"]",
            b"[]",
            b"[::1]x",
            b"[::1]80",
            b"[::1]:8a",
            b"[127.0.0.1]",
            b"[fe80::1%25eth0]",
            b"[1:2:3:4:5:6:7:8:9]",
            b"[12345::]",
            b"[::1::]",
            b"[v.x]",
            b"[v1.]",
            b"[vg.x]",
            b"[v1.a/b]",
            b"[v1x]",
        ];
        for host in invalid {
            assert!(!is_valid_host(host), "{:?} accepted", host.escape_ascii());
        }
    }

    #[test]
    fn every_byte_outside_the_grammar_is_refused_anywhere_in_a_reg_name() {
        for byte in 0..=255u8 {
            // `:` starts a port (digits only), `%` an escape; both are
            // tested on their own above.
            if byte == b':' || byte == b'%' {
                continue;
            }
            let allowed = REG_NAME[byte as usize];
            let values: [&[u8]; 5] = [
                &[byte],
                &[b'a', byte],
                &[byte, b'a', b':', b'1'],
                &[b'a', b'.', byte, b'.', b'b'],
                &[
                    b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', byte,
                ],
            ];
            for value in values {
                assert_eq!(is_valid_host(value), allowed, "{:?}", value.escape_ascii());
            }
        }
    }

    #[test]
    fn ports_of_every_length_and_byte() {
        for len in 0..=12usize {
            for bad in [None, Some(0), Some(len / 2), Some(len.saturating_sub(1))] {
                for byte in 0..=255u8 {
                    let mut value = b"host:".to_vec();
                    value.extend((0..len).map(|i| b'0' + (i % 10) as u8));
                    if let Some(at) = bad.filter(|&at| at < len) {
                        value[5 + at] = byte;
                    }
                    let expected = value[5..].iter().all(u8::is_ascii_digit);
                    assert_eq!(
                        is_valid_host(&value),
                        expected,
                        "{:?}",
                        value.escape_ascii()
                    );
                    if bad.is_none() {
                        break;
                    }
                }
            }
        }
    }
}
