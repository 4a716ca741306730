//! [`LogWriter`]: the run's side of the event log.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use backup_orchestrator_proto::codec::encode_frame;
use backup_orchestrator_proto::{Envelope, Event, Summary};

use super::error::RunLogError;

/// Wraps events in [`Envelope`]s: `seq` from 0 without gaps, the wall clock, the time since the
/// run started.
#[derive(Debug)]
pub struct Stamper {
    next_seq: u64,
    started: Instant,
}

impl Stamper {
    pub fn new(started: Instant) -> Stamper {
        Stamper {
            next_seq: 0,
            started,
        }
    }

    pub fn stamp(&mut self, event: Event) -> Envelope {
        let envelope = Envelope {
            seq: self.next_seq,
            at_ms: unix_ms(SystemTime::now()),
            elapsed_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            event,
        };
        self.next_seq += 1;
        envelope
    }
}

/// Stamps each event ([`Stamper`]) and appends it to the events file as one frame in one `write`,
/// unbuffered: a follower sees it at once.
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    path: PathBuf,
    stamper: Stamper,
}

impl LogWriter {
    /// Opens (creating if needed) the events file for appending; `started` is the run's start.
    pub fn open(path: &Path, started: Instant) -> Result<LogWriter, RunLogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(RunLogError::io("open", path))?;
        Ok(LogWriter {
            file,
            path: path.to_owned(),
            stamper: Stamper::new(started),
        })
    }

    /// Appends `event` and returns the envelope written.
    pub fn append(&mut self, event: Event) -> Result<Envelope, RunLogError> {
        let envelope = self.stamper.stamp(event);
        let frame = encode_frame(&envelope).map_err(|source| RunLogError::Frame {
            path: self.path.clone(),
            source,
        })?;
        self.file
            .write_all(&frame)
            .map_err(RunLogError::io("append to", &self.path))?;
        Ok(envelope)
    }
}

/// Writes `summary.json` next to the events (via a temporary file and a rename, so a reader never
/// sees half of it).
pub fn write_summary(path: &Path, summary: &Summary) -> Result<(), RunLogError> {
    let mut json = serde_json::to_vec_pretty(summary).unwrap_or_default();
    json.push(b'\n');
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, json).map_err(RunLogError::io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(RunLogError::io("replace", path))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
