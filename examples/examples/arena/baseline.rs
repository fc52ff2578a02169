//! The connection profiles' endpoints: `baseline`, `limited-conn`,
//! `pipelined`, and over HTTP/2 `baseline-h2` and `baseline-h2c`.
//!
//! - `GET /baseline11?a=A&b=B` (and `/baseline2`, its HTTP/2 name)
//!   answers `A + B`; `POST` the same plus the integer in its body (sent
//!   with `Content-Length` or chunked: the connection has already read
//!   and decoded it), as `text/plain`.
//! - `GET /pipeline` answers `ok`, as `text/plain`.

use peregrine_core::{Method, Request, Response, StatusCode, query};

use crate::routes::Worker;

/// `GET` or `POST /baseline11` or `/baseline2`.
pub fn baseline(request: &Request<'_>, response: &mut Response<'_, Worker>) {
    let mut sum = match sum_of_query(request.query().unwrap_or(b"")) {
        Some(sum) => sum,
        None => return bad_request(response, b"a and b must be integers\n"),
    };
    match request.method() {
        Method::Get | Method::Head => {}
        Method::Post => match integer(request.body().trim_ascii()) {
            Some(n) => sum += i128::from(n),
            None => return bad_request(response, b"the body must be an integer\n"),
        },
        _ => {
            response.status(StatusCode::METHOD_NOT_ALLOWED);
            let _ = response.header("Allow", "GET, HEAD, POST");
            return;
        }
    }
    let _ = response.header("Content-Type", "text/plain");
    let mut digits = itoa::Buffer::new();
    // A few digits always fit the write buffer.
    let _ = response.body(digits.format(sum).as_bytes());
}

/// `GET /pipeline`.
pub fn pipeline(request: &Request<'_>, response: &mut Response<'_, Worker>) {
    match request.method() {
        Method::Get | Method::Head => {
            let _ = response.header("Content-Type", "text/plain");
            response.body_static(b"ok");
        }
        _ => {
            response.status(StatusCode::METHOD_NOT_ALLOWED);
            let _ = response.header("Allow", "GET, HEAD");
        }
    }
}

/// `a + b` from a query (either missing counts as 0), or `None` if one is
/// not an integer. 128 bits: no pair of 64-bit values (and a body's)
/// overflows it.
fn sum_of_query(raw: &[u8]) -> Option<i128> {
    let mut sum = 0i128;
    for (key, value) in query::pairs(raw) {
        if key == b"a" || key == b"b" {
            sum += i128::from(integer(value)?);
        }
    }
    Some(sum)
}

/// A decimal integer with an optional sign, as the bytes spell it exactly
/// (no spaces, no `+` for a space), or `None`.
pub fn integer(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value = 0i64;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(digit))?;
    }
    Some(if negative { -value } else { value })
}

/// Answers `400` with `message`.
fn bad_request(response: &mut Response<'_, Worker>, message: &'static [u8]) {
    response.status(StatusCode::BAD_REQUEST);
    let _ = response.header("Content-Type", "text/plain");
    response.body_static(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_exactly() {
        assert_eq!(integer(b"20"), Some(20));
        assert_eq!(integer(b"-7"), Some(-7));
        assert_eq!(integer(b"+7"), Some(7));
        assert_eq!(integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(integer(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"1 ", b" 1", b"1a", b"0x1", b"1.5"] {
            assert_eq!(integer(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_query_sums_a_and_b() {
        assert_eq!(sum_of_query(b"a=13&b=42"), Some(55));
        assert_eq!(sum_of_query(b"b=42&x=y&a=-2"), Some(40));
        assert_eq!(sum_of_query(b""), Some(0));
        assert_eq!(sum_of_query(b"a=1&b=two"), None);
        let max = i128::from(i64::MAX);
        assert_eq!(
            sum_of_query(b"a=9223372036854775807&b=9223372036854775807"),
            Some(2 * max)
        );
    }
}
