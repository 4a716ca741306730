//! [`PlainWriter`]: `[INFO] text` lines, no ANSI codes, one `write` per line.
//!
//! Plain mode writes every line to stdout (the user's script did, and people pipe it); quiet and
//! JSON modes reuse it on stderr with only the error-level lines.

use std::io::{self, Write};

use backup_orchestrator_proto::LogLevel;

use crate::lines::{Line, level_tag};
use crate::printable::printable;

/// `[INFO] text`, or `[INFO] forge: text` with a host label; the host's text made [`printable`].
pub(crate) fn plain_text(level: LogLevel, text: &str, host_label: Option<&str>) -> String {
    let text = printable(text);
    match host_label {
        Some(host) => format!("{} {host}: {text}", level_tag(level)),
        None => format!("{} {text}", level_tag(level)),
    }
}

/// Levels by importance, a level from a newer agent counting as info.
pub(crate) fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info | LogLevel::Unknown => 1,
        LogLevel::Warn => 2,
        LogLevel::Error => 3,
    }
}

pub(crate) struct PlainWriter {
    out: Box<dyn Write + Send>,
    min_level: LogLevel,
    host_label: Option<String>,
}

impl PlainWriter {
    /// Writes lines at `min_level` and above to `out`.
    pub fn new(
        out: Box<dyn Write + Send>,
        min_level: LogLevel,
        host_label: Option<String>,
    ) -> PlainWriter {
        PlainWriter {
            out,
            min_level,
            host_label,
        }
    }

    pub fn shows(&self, level: LogLevel) -> bool {
        rank(level) >= rank(self.min_level)
    }

    pub fn write_lines(&mut self, lines: &[Line]) -> io::Result<()> {
        for line in lines {
            self.write_line(line.level, &line.text)?;
        }
        Ok(())
    }

    pub fn write_line(&mut self, level: LogLevel, text: &str) -> io::Result<()> {
        if !self.shows(level) {
            return Ok(());
        }
        let mut s = plain_text(level, text, self.host_label.as_deref());
        s.push('\n');
        self.out.write_all(s.as_bytes())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
