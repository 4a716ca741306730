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
    /// The state directory (or a run's) is not safe for root to write in.
    #[error(
        "use {dir}: {reason} (owner uid {uid}, group gid {gid}, mode {mode:04o}); it must be a \
         directory owned by uid {expected_uid} that group and others cannot write to: \
         chown {expected_uid}:0 {dir} && chmod 0750 {dir}",
        dir = path.display()
    )]
    UnsafeDir {
        path: PathBuf,
        reason: &'static str,
        uid: u32,
        gid: u32,
        mode: u32,
        expected_uid: u32,
    },
    /// A new run's directory exists already (an id collision): never reused.
    #[error("create {}: a run with this id exists already", path.display())]
    RunExists { path: PathBuf },
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
