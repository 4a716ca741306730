//! [`printable`]: text that came from a host, made safe to print on the user's terminal.
//!
//! Unit names, stage names, error messages and journal lines arrive from the host. A hostile or
//! broken host could put terminal control sequences in them (`\x1b]0;…` retitles the window,
//! `\x1b[2J` clears it, `\r` overwrites a line that said "failed"). Every line this crate prints
//! goes through [`printable`]: control characters are shown escaped (`\u{1b}`, `\r`), everything else,
//! including any Unicode text, is kept. JSON output needs no such step: serde_json escapes control
//! characters itself.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1) but the tab written as its escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_terminal_controls_and_keeps_text() {
        assert_eq!(printable("sanoid.service"), "sanoid.service");
        assert_eq!(printable("ünït\tok"), "ünït\tok");
        assert_eq!(
            printable("x\x1b]0;owned\x07\r\n\u{9b}2J"),
            "x\\u{1b}]0;owned\\u{7}\\r\\n\\u{9b}2J"
        );
    }
}
