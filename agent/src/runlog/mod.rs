//! The run's event log on disk: [`Layout`] (where runs live), [`LogWriter`] (the run appends),
//! [`LogReader`] and [`Follower`] (everyone else reads).
//!
//! A run is owned by PID 1 (see [`crate::runs::unit`]), not by whoever asked for it, so the log is the
//! only channel between the run and its audience. Each event is one proto frame
//! (`backup_orchestrator_proto::codec::encode_frame`), appended with a single `write` and no user-space
//! buffering, so a follower sees every event as soon as the engine emits it. Any number of followers
//! (the local CLI, `serve` for a controller, a later `attach`) replay the file from the start and then
//! follow it live, woken by the kernel at each write (dnotify; see `follow.rs`).
//!
//! ```text
//! /var/lib/backup-orchestrator/
//!   current                      id of the run that last took the lock (written by the run itself)
//!   monitoring.json              last successes, carried across runs into the Prometheus textfile
//!   runs/20251103T120000Z-ab12/
//!     events                     frames: Envelope{seq 0: RunStarted} … Envelope{RunFinished}
//!     summary.json               the Summary, written when the run ends
//! ```
//!
//! The last [`KEEP_RUNS`] run directories are kept; older ones are deleted when a run starts.

mod error;
mod follow;
mod id;
mod reader;
mod writer;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use error::RunLogError;
pub use follow::{FollowTimings, Follower, Liveness, LogFollowError};
pub use id::{is_run_id, new_run_id, started_at_of};
pub use reader::{LogReader, read_all};
pub use writer::{LogWriter, Stamper, write_summary};

/// The agent's state directory on a host.
pub const STATE_DIR: &str = "/var/lib/backup-orchestrator";
/// Run directories kept on the host, the running one included.
pub const KEEP_RUNS: usize = 20;

const RUNS: &str = "runs";
const CURRENT: &str = "current";
const EVENTS: &str = "events";
const SUMMARY: &str = "summary.json";
const MONITORING: &str = "monitoring.json";

impl RunLogError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RunLogError {
        let path = path.to_owned();
        move |source| RunLogError::Io {
            action,
            path,
            source,
        }
    }
}

/// Where the runs of one host live: [`STATE_DIR`] on a host, a temporary directory in tests.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The host's layout under [`STATE_DIR`].
    pub fn system() -> Layout {
        Layout::new(STATE_DIR)
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join(RUNS)
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(run_id)
    }

    pub fn events_path(&self, run_id: &str) -> PathBuf {
        self.run_dir(run_id).join(EVENTS)
    }

    pub fn summary_path(&self, run_id: &str) -> PathBuf {
        self.run_dir(run_id).join(SUMMARY)
    }

    /// What the monitoring textfile carries from run to run (`crate::monitoring::textfile`).
    pub fn monitoring_path(&self) -> PathBuf {
        self.root.join(MONITORING)
    }

    /// Creates the run's directory and its empty events file, so followers can open and watch it
    /// before the run writes its first event. Harmless if they exist.
    pub fn prepare(&self, run_id: &str) -> Result<PathBuf, RunLogError> {
        let dir = self.run_dir(run_id);
        fs::create_dir_all(&dir).map_err(RunLogError::io("create", &dir))?;
        let events = dir.join(EVENTS);
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&events)
            .map_err(RunLogError::io("create", &events))?;
        Ok(events)
    }

    /// Removes a run directory made by [`Layout::prepare`] for a run that never started.
    pub fn discard(&self, run_id: &str) {
        let dir = self.run_dir(run_id);
        if let Err(e) = fs::remove_dir_all(&dir) {
            tracing::warn!("could not remove {}: {e}", dir.display());
        }
    }

    /// Records `run_id` as the host's current (or last) run. Only the run holding the lock calls
    /// this, so the pointer never names a run that was refused.
    pub fn write_current(&self, run_id: &str) -> Result<(), RunLogError> {
        let path = self.root.join(CURRENT);
        let tmp = self.root.join(".current.tmp");
        fs::write(&tmp, format!("{run_id}\n")).map_err(RunLogError::io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(RunLogError::io("replace", &path))
    }

    /// The run recorded by [`Layout::write_current`], or else the newest run directory.
    pub fn last_run(&self) -> Option<String> {
        let current = fs::read_to_string(self.root.join(CURRENT)).ok();
        match current.as_deref().map(str::trim) {
            Some(id) if is_run_id(id) && self.run_dir(id).is_dir() => Some(id.to_owned()),
            _ => self.run_ids().pop(),
        }
    }

    /// Whether a run directory with this id exists.
    pub fn has_run(&self, run_id: &str) -> bool {
        is_run_id(run_id) && self.events_path(run_id).is_file()
    }

    /// Ids of all run directories, oldest first.
    pub fn run_ids(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.runs_dir()) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| is_run_id(name))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Deletes the oldest run directories so that at most `keep` remain, never `protect` (the run
    /// starting now). Returns the ids deleted.
    pub fn retain(&self, keep: usize, protect: &str) -> Vec<String> {
        let ids = self.run_ids();
        let excess = ids.len().saturating_sub(keep);
        let mut deleted = Vec::with_capacity(excess);
        for id in ids.into_iter().filter(|id| id != protect).take(excess) {
            match fs::remove_dir_all(self.run_dir(&id)) {
                Ok(()) => deleted.push(id),
                Err(e) => tracing::warn!("could not delete old run {id}: {e}"),
            }
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> String {
        format!("20251103T12{:02}{:02}Z-00{:02x}", n / 60, n % 60, n % 256)
    }

    #[test]
    fn retention_keeps_the_newest_twenty_runs() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        for n in 0..25 {
            layout.prepare(&id(n)).unwrap();
        }
        // Not a run: left alone.
        fs::create_dir_all(layout.runs_dir().join("lost+found")).unwrap();

        let deleted = layout.retain(KEEP_RUNS, &id(24));
        assert_eq!(deleted, (0..5).map(id).collect::<Vec<_>>());
        let left = layout.run_ids();
        assert_eq!(left.len(), 20);
        assert_eq!(left.first(), Some(&id(5)));
        assert_eq!(left.last(), Some(&id(24)));
        assert!(layout.runs_dir().join("lost+found").is_dir());
    }

    #[test]
    fn retention_never_deletes_the_protected_run() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        for n in 0..3 {
            layout.prepare(&id(n)).unwrap();
        }
        // The starting run sorts first (a clock step back): it still stays.
        assert_eq!(layout.retain(2, &id(0)), vec![id(1)]);
        assert_eq!(layout.run_ids(), vec![id(0), id(2)]);
    }

    #[test]
    fn last_run_prefers_the_pointer_then_the_newest_directory() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        assert_eq!(layout.last_run(), None);
        layout.prepare(&id(1)).unwrap();
        layout.prepare(&id(2)).unwrap();
        assert_eq!(layout.last_run(), Some(id(2)));
        layout.write_current(&id(1)).unwrap();
        assert_eq!(layout.last_run(), Some(id(1)));
        layout.discard(&id(1));
        assert_eq!(layout.last_run(), Some(id(2)));
    }
}
