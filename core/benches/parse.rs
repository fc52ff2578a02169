//! Parser benchmark (filled in below).
fn main() {}
