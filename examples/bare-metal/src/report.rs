//! Output over semihosting, and the exit status QEMU returns.

use core::fmt;

use cortex_m_semihosting::debug;

/// Bytes shown as an escaped string: printable ASCII as is, `\r`, `\n`,
/// and `\xNN` for the rest; at most 96 bytes, then `...`.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 96;
        f.write_str("\"")?;
        for &byte in self.0.iter().take(SHOWN) {
            match byte {
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                b'"' | b'\\' => write!(f, "\\{}", byte as char)?,
                b' '..=b'~' => write!(f, "{}", byte as char)?,
                _ => write!(f, "\\x{byte:02x}")?,
            }
        }
        f.write_str("\"")?;
        if self.0.len() > SHOWN {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Ends the program: QEMU exits with status 0 if `passed`, else 1.
pub fn exit(passed: bool) -> ! {
    debug::exit(if passed {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Without a debugger or QEMU attached, exiting does nothing.
    loop {
        cortex_m::asm::wfi();
    }
}
