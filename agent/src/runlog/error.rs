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
    #[error("read an event from {}", path.display())]
    Frame {
        path: PathBuf,
        #[source]
        source: backup_orchestrator_proto::FrameError,
    },
}
