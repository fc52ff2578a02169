//! Temporary scalar scanners (replaced by the fast-path module).
#![allow(dead_code)]

pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}
pub(crate) const fn is_value_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}
pub(crate) const fn is_target_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f
}
pub(crate) fn value_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_value_byte(b))
        .unwrap_or(bytes.len())
}
pub(crate) fn target_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_target_byte(b))
        .unwrap_or(bytes.len())
}
pub(crate) fn token_run(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(bytes.len())
}
