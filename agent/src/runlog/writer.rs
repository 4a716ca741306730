//! [`LogWriter`]: the run's side of the event log.
//!
//! A failed append (a full disk: ENOSPC; EIO) must not leave half a frame in the file: every later
//! frame would follow it, and every reader would stop at the garbage with a decode error. So the
//! writer keeps the length of the whole frames it wrote, truncates the file back to it when a
//! write fails (shrinking a file needs no free space), and remembers how many events it dropped.
//! The next append that succeeds first writes an [`Event::LogIncomplete`] saying so, then the
//! event. Dropped events get no `seq`, so the numbering stays gap-free. Each frame is its own
//! `write`, so a partial write never holds a whole frame that a reader could take and that is
//! then cut away.
//!
//! ```text
//!  append(e) ── gap? ──yes──▶ write [LogIncomplete{reason, lost}] ─┐
//!               │ no                                               │ ok
//!               ▼                                                  ▼
//!            write [e] ── ok: len += frame                    write [e] …
//!               └─ fails: truncate(len), lost += 1, e dropped
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use backup_orchestrator_proto::codec::encode_frame;
use backup_orchestrator_proto::event::LogIncomplete;
use backup_orchestrator_proto::{Envelope, Event, Summary};

use super::error::RunLogError;
use super::state_dir::{open_nofollow, replace_file};

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

    /// Takes back the numbers of envelopes that were never written.
    fn unstamp(&mut self, count: u64) {
        self.next_seq = self.next_seq.saturating_sub(count);
    }
}

/// The file the frames go to: appended to, and cut back after a failed append.
pub trait AppendFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl AppendFile for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// Events not written since the last append that succeeded.
#[derive(Debug)]
struct Gap {
    reason: String,
    lost: u64,
}

/// Stamps each event ([`Stamper`]) and appends it to the events file as one frame in one `write`,
/// unbuffered: a follower sees it at once. See the module doc for failed appends.
#[derive(Debug)]
pub struct LogWriter<F = File> {
    file: F,
    path: PathBuf,
    stamper: Stamper,
    /// Bytes of whole frames in the file: where it is cut back to after a failed append.
    len: u64,
    gap: Option<Gap>,
    /// The file could not be cut back: it may end in half a frame, so nothing more is appended.
    closed: bool,
}

impl LogWriter<File> {
    /// Opens (creating if needed) the events file for appending, without following a symlink;
    /// `started` is the run's start.
    pub fn open(path: &Path, started: Instant) -> Result<LogWriter<File>, RunLogError> {
        let file = open_nofollow(OpenOptions::new().create(true).append(true), path)
            .map_err(RunLogError::io("open", path))?;
        let len = file
            .metadata()
            .map_err(RunLogError::io("open", path))?
            .len();
        Ok(LogWriter::with_file(file, path, len, started))
    }
}

impl<F: AppendFile> LogWriter<F> {
    /// A writer appending to `file`, which holds `len` bytes of whole frames.
    pub fn with_file(file: F, path: &Path, len: u64, started: Instant) -> LogWriter<F> {
        LogWriter {
            file,
            path: path.to_owned(),
            stamper: Stamper::new(started),
            len,
            gap: None,
            closed: false,
        }
    }

    /// Appends `event` and returns the envelope written. On an error the file is cut back to its
    /// last whole frame and the event counted as lost (see the module doc).
    pub fn append(&mut self, event: Event) -> Result<Envelope, RunLogError> {
        if self.closed {
            return Err(RunLogError::Closed {
                path: self.path.clone(),
            });
        }
        if let Some(gap) = &self.gap {
            let marker = Event::LogIncomplete(LogIncomplete {
                reason: gap.reason.clone(),
                lost_events: gap.lost,
            });
            if let Err(e) = self.write_one(marker) {
                self.count_lost();
                return Err(e);
            }
            self.gap = None;
        }
        self.write_one(event).inspect_err(|_| self.count_lost())
    }

    /// Writes one frame in one `write`: a reader never sees a whole frame that is then cut away,
    /// only, at worst, the start of one (see `reader.rs`).
    fn write_one(&mut self, event: Event) -> Result<Envelope, RunLogError> {
        let envelope = self.stamper.stamp(event);
        let bytes = self.frame(&envelope)?;
        match self.file.append(&bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(envelope)
            }
            Err(source) => {
                self.stamper.unstamp(1);
                self.gap.get_or_insert(Gap {
                    reason: source.to_string(),
                    lost: 0,
                });
                if let Err(cut) = self.file.truncate(self.len) {
                    self.closed = true;
                    tracing::error!(
                        "cut {} back to its last whole frame: {cut}",
                        self.path.display()
                    );
                }
                Err(RunLogError::Append {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// The event just refused is one more lost.
    fn count_lost(&mut self) {
        if let Some(gap) = &mut self.gap {
            gap.lost += 1;
        }
    }

    /// Whether events were dropped since the last append that succeeded.
    pub fn is_incomplete(&self) -> bool {
        self.gap.is_some() || self.closed
    }

    fn frame(&self, envelope: &Envelope) -> Result<Vec<u8>, RunLogError> {
        encode_frame(envelope).map_err(|source| RunLogError::Frame {
            path: self.path.clone(),
            source,
        })
    }
}

/// Writes `summary.json` next to the events (via a temporary file and a rename, so a reader never
/// sees half of it; neither is followed if it is a symlink).
pub fn write_summary(path: &Path, summary: &Summary) -> Result<(), RunLogError> {
    let mut json = serde_json::to_vec_pretty(summary).unwrap_or_default();
    json.push(b'\n');
    replace_file(path, &path.with_extension("json.tmp"), &json)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_proto::LogLevel;
    use backup_orchestrator_proto::event::Log;

    use super::*;
    use crate::runlog::reader::decode_all;

    /// A disk of `free` bytes: a write that does not fit writes what fits, then fails (ENOSPC).
    struct SmallDisk {
        bytes: Vec<u8>,
        free: usize,
    }

    impl AppendFile for SmallDisk {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            let fits = bytes.len().min(self.free);
            self.bytes.extend_from_slice(&bytes[..fits]);
            self.free -= fits;
            if fits < bytes.len() {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            Ok(())
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            let len = usize::try_from(len).unwrap();
            self.free += self.bytes.len() - len;
            self.bytes.truncate(len);
            Ok(())
        }
    }

    fn log(n: u32) -> Event {
        Event::Log(Log {
            level: LogLevel::Info,
            message: format!("line {n}"),
        })
    }

    #[test]
    fn writer_cuts_a_failed_append_back_and_says_how_many_events_were_lost() {
        let disk = SmallDisk {
            bytes: Vec::new(),
            free: 100,
        };
        let mut writer = LogWriter::with_file(disk, Path::new("events"), 0, Instant::now());
        writer.append(log(0)).unwrap();
        // The disk fills: three appends fail, each leaving the file as it was.
        let whole = writer.file.bytes.len();
        writer.file.free = 10;
        for n in 1..4 {
            let err = writer.append(log(n)).unwrap_err();
            assert!(err.to_string().contains("append to events"), "{err}");
            assert_eq!(writer.file.bytes.len(), whole);
        }
        assert!(writer.is_incomplete());
        // Space returns: the marker, then the event, numbered on from the last written one.
        writer.file.free = 1000;
        let next = writer.append(log(4)).unwrap();
        assert!(!writer.is_incomplete());
        let events = decode_all(&writer.file.bytes).unwrap();
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [0, 1, 2],
            "{events:?}"
        );
        let Event::LogIncomplete(gap) = &events[1].event else {
            panic!("{events:?}");
        };
        assert_eq!(gap.lost_events, 3);
        assert!(gap.reason.contains("No space left on device"), "{gap:?}");
        assert_eq!(events[2], next);
    }
}
