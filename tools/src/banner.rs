//! What a server prints on standard output when it is ready. A server must not die
//! because that output went away (`brook dev | head -1`), so a failed write is ignored:
//! the logs on standard error say the same.

use std::io::Write;

pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
