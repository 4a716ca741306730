//! [`RunLogError`]: why the event log could not be written or read.

use std::io;
use std::path::PathBuf;

/// Why the event log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("{action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The log cannot be read past `events` whole events: damaged (see `reader.rs`).
    #[error(
        "event log incomplete on {host}: {} is unreadable after {events} events (byte {offset})",
        path.display()
    )]
    Damaged {
        host: String,
        path: PathBuf,
        events: u64,
        offset: u64,
        #[source]
        source: Box<backup_orchestrator_proto::FrameError>,
    },
    /// An append failed; the file was cut back to its last whole frame (see `writer.rs`).
    #[error("append to {}", path.display())]
    Append {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file could not be cut back after a failed append: nothing more is written to it.
    #[error("append to {}: the log was closed after a failed append could not be undone", path.display())]
    Closed { path: PathBuf },
    #[error("encode an event for {}", path.display())]
    Frame {
        path: PathBuf,
        #[source]
        source: backup_orchestrator_proto::FrameError,
    },
}
