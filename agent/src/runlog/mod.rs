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
//!
//! The state directory and `runs/` are `0750`, owned by the agent's user (root), refused otherwise;
//! files in them are opened without following symlinks (`state_dir.rs`). A run's directory is
//! created exclusively, so an id that collides with a live run's can never reuse (and the
//! retention never delete) that run's log.

mod error;
mod follow;
mod id;
mod reader;
mod state_dir;
mod writer;

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub use error::RunLogError;
pub use follow::{FollowTimings, Follower, Liveness, LogFollowError};
pub use id::{is_run_id, new_run_id, started_at_of};
pub use reader::{LogContents, LogReader, read_all};
pub use state_dir::check_private_dir;
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

    /// Creates the run's directory (exclusively: an existing one is [`RunLogError::RunExists`])
    /// and its empty events file, so followers can open and watch it before the run writes its
    /// first event. Creates and checks the state directory first (see `state_dir.rs`).
    pub fn prepare(&self, run_id: &str) -> Result<PathBuf, RunLogError> {
        state_dir::ensure_private_dir(&self.root)?;
        state_dir::ensure_private_dir(&self.runs_dir())?;
        let dir = self.run_dir(run_id);
        match fs::DirBuilder::new().mode(0o750).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(RunLogError::RunExists { path: dir });
            }
            Err(e) => return Err(RunLogError::io("create", &dir)(e)),
        }
        let events = dir.join(EVENTS);
        state_dir::open_nofollow(
            OpenOptions::new().create_new(true).append(true).mode(0o640),
            &events,
        )
        .map_err(RunLogError::io("create", &events))?;
        Ok(events)
    }

    /// The events file of a run [`Layout::prepare`]d by its starter, for the run itself: the
    /// state directory and the run's are checked again (they are root's, nobody else's).
    pub fn prepared_events(&self, run_id: &str) -> Result<PathBuf, RunLogError> {
        state_dir::check_private_dir(&self.root)?;
        state_dir::check_private_dir(&self.runs_dir())?;
        state_dir::check_private_dir(&self.run_dir(run_id))?;
        Ok(self.events_path(run_id))
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
        state_dir::replace_file(&path, &tmp, format!("{run_id}\n").as_bytes())
    }

    /// The run recorded by [`Layout::write_current`], or else the newest run directory.
    pub fn last_run(&self) -> Option<String> {
        let current = state_dir::read_nofollow(&self.root.join(CURRENT)).ok();
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
    fn prepare_never_reuses_an_existing_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("state"));
        let events = layout.prepare(&id(1)).unwrap();
        fs::write(&events, b"a live run's log").unwrap();
        let err = layout.prepare(&id(1)).unwrap_err();
        assert!(matches!(err, RunLogError::RunExists { .. }), "{err}");
        assert_eq!(fs::read(&events).unwrap(), b"a live run's log");
        assert_eq!(layout.prepared_events(&id(1)).unwrap(), events);
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
