//! [`Follower`]: replays a run's events file from the start and follows it live until
//! `RunFinished`, woken by the kernel when the file is written (see [`Watch`]), never by sleeping
//! in a loop.
//!
//! ```text
//!  next() ──▶ complete frame in the file? ──yes──▶ return it (RunFinished: the end)
//!                 │ no
//!                 ▼
//!  first time at the end? ──yes──▶ is the run's process alive? (Liveness, one D-Bus call)
//!                 │ no                         │ no ──▶ read once more, then Abandoned
//!                 ▼                            ▼ yes
//!  wait for a write (Watch) up to `quiet` ─────┴─ quiet elapsed ──▶ alive? (as above);
//!                                                 no event ever within `first_event` ──▶ NeverStarted
//! ```
//!
//! A run whose process is gone (killed, crashed, host rebooted) without a `RunFinished` ends the
//! follow with [`LogFollowError::Abandoned`] within one `quiet` period, instead of hanging.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use backup_orchestrator_proto::{Envelope, Event};
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags, inotify};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::error::RunLogError;
use super::reader::LogReader;

/// Whether a run's process is still there to append to its log.
#[allow(async_fn_in_trait)] // used with concrete types only; no Send bound needed on one thread
pub trait Liveness {
    /// `Ok(true)` while `run_id` may still write events; `Err` with a sentence when that cannot be
    /// told (the follow then stops with that error rather than wait for ever).
    async fn is_running(&mut self, run_id: &str) -> Result<bool, String>;
}

/// How long the follower waits before it asks [`Liveness`] or gives up.
#[derive(Clone, Copy, Debug)]
pub struct FollowTimings {
    /// A run that wrote nothing this long after the follow began is reported, even if its unit
    /// still exists.
    pub first_event: Duration,
    /// No inotify wake-up for this long: ask whether the run is still alive.
    pub quiet: Duration,
}

impl Default for FollowTimings {
    fn default() -> Self {
        FollowTimings {
            first_event: Duration::from_secs(10),
            quiet: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogFollowError {
    #[error(transparent)]
    Log(#[from] RunLogError),
    #[error("watch {path} for new events")]
    Watch {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "run {run_id} was abandoned: its process ended without finishing the run (killed, crashed or \
         the host restarted); see `journalctl -u backup-orchestrator-run.service`"
    )]
    Abandoned { run_id: String },
    #[error(
        "run {run_id} wrote no event within {}s of being started; see `journalctl -u \
         backup-orchestrator-run.service`",
        waited.as_secs()
    )]
    NeverStarted { run_id: String, waited: Duration },
    #[error("could not tell whether run {run_id} is still going: {message}")]
    Liveness { run_id: String, message: String },
}

/// Follows one run's events file. See the module doc.
#[derive(Debug)]
pub struct Follower<L> {
    run_id: String,
    reader: LogReader,
    watch: Watch,
    liveness: L,
    timings: FollowTimings,
    opened: Instant,
    seen_any: bool,
    checked_once: bool,
    /// The process is gone: what the file holds now is all there will ever be.
    dead: bool,
    finished: bool,
}

impl<L: Liveness> Follower<L> {
    /// Opens `events` (which must exist) for following. The watch is placed before the first read,
    /// so nothing appended in between is missed.
    pub fn open(
        events: &Path,
        run_id: &str,
        liveness: L,
        timings: FollowTimings,
    ) -> Result<Follower<L>, LogFollowError> {
        let watch = Watch::new(events).map_err(|source| LogFollowError::Watch {
            path: events.display().to_string(),
            source,
        })?;
        Ok(Follower {
            run_id: run_id.to_owned(),
            reader: LogReader::open(events)?,
            watch,
            liveness,
            timings,
            opened: Instant::now(),
            seen_any: false,
            checked_once: false,
            dead: false,
            finished: false,
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The next event; `Ok(None)` after `RunFinished`.
    pub async fn next(&mut self) -> Result<Option<Envelope>, LogFollowError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            if let Some(envelope) = self.reader.next_event()? {
                self.seen_any = true;
                self.finished = matches!(envelope.event, Event::RunFinished(_));
                return Ok(Some(envelope));
            }
            if self.dead {
                return Err(LogFollowError::Abandoned {
                    run_id: self.run_id.clone(),
                });
            }
            if !self.checked_once {
                self.checked_once = true;
                self.dead = !self.alive().await?;
                continue;
            }
            match tokio::time::timeout(self.timings.quiet, self.watch.changed()).await {
                Ok(woke) => woke.map_err(|source| LogFollowError::Watch {
                    path: self.run_id.clone(),
                    source,
                })?,
                Err(_quiet) => {
                    self.dead = !self.alive().await?;
                    if !self.dead
                        && !self.seen_any
                        && self.opened.elapsed() >= self.timings.first_event
                    {
                        return Err(LogFollowError::NeverStarted {
                            run_id: self.run_id.clone(),
                            waited: self.timings.first_event,
                        });
                    }
                }
            }
        }
    }

    async fn alive(&mut self) -> Result<bool, LogFollowError> {
        self.liveness
            .is_running(&self.run_id)
            .await
            .map_err(|message| LogFollowError::Liveness {
                run_id: self.run_id.clone(),
                message,
            })
    }
}

/// Wakes the follower when the run writes to its events file.
///
/// dnotify (`fcntl(F_NOTIFY, DN_MODIFY)` on the run's directory, delivered as SIGIO through tokio)
/// rather than inotify: closing an inotify instance that holds a watch waits until the kernel has
/// freed the watch (`fsnotify_destroy_group` → `synchronize_srcu`), measured at 8–16 ms on the test
/// hosts, and that close is the last thing a follower does, between the run's summary and the
/// command's exit. Dropping a dnotify watch does not wait. inotify remains the fallback for a
/// kernel without dnotify.
#[derive(Debug)]
enum Watch {
    Dir(DirWatch),
    Inotify(InotifyWatch),
}

impl Watch {
    /// Watches `events` (a file in its run's directory).
    fn new(events: &Path) -> io::Result<Watch> {
        let dir = events.parent().unwrap_or(Path::new("."));
        match DirWatch::new(dir) {
            Ok(watch) => Ok(Watch::Dir(watch)),
            Err(e) => {
                tracing::debug!("dnotify on {} unavailable ({e}): inotify", dir.display());
                InotifyWatch::new(events).map(Watch::Inotify)
            }
        }
    }

    /// Waits until the file may have changed since the last call. May wake for other writes in
    /// the directory: the caller reads and finds nothing new.
    async fn changed(&mut self) -> io::Result<()> {
        match self {
            Watch::Dir(watch) => watch.changed().await,
            Watch::Inotify(watch) => watch.changed().await,
        }
    }
}

/// `<linux/fcntl.h>` (the libc crate does not have them): a file in the directory was written;
/// keep notifying after the first event.
const DN_MODIFY: libc::c_int = 0x0000_0002;
const DN_MULTISHOT: libc::c_int = 0x8000_0000_u32.cast_signed();

/// A dnotify watch on a directory: SIGIO for every write to a file in it, while the directory's
/// descriptor is open.
#[derive(Debug)]
struct DirWatch {
    _dir: OwnedFd,
    io: Signal,
}

impl DirWatch {
    fn new(dir: &Path) -> io::Result<DirWatch> {
        // The handler first: SIGIO's default action ends the process. tokio keeps it installed
        // for the life of the process, so a signal that comes after this watch is gone is harmless.
        let io = signal(SignalKind::io())?;
        let dir = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: fcntl(F_NOTIFY) takes an int argument and reads or writes no memory of ours; the
        // descriptor is open (owned by `dir`) for the duration of the call.
        #[allow(unsafe_code)]
        let armed =
            unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_NOTIFY, DN_MODIFY | DN_MULTISHOT) };
        if armed < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(DirWatch { _dir: dir, io })
    }

    async fn changed(&mut self) -> io::Result<()> {
        match self.io.recv().await {
            Some(()) => Ok(()),
            None => Err(io::Error::other("the runtime stopped delivering signals")),
        }
    }
}

/// An inotify watch on one file, readable through tokio's reactor.
#[derive(Debug)]
struct InotifyWatch {
    fd: AsyncFd<OwnedFd>,
}

impl InotifyWatch {
    fn new(path: &Path) -> io::Result<InotifyWatch> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        inotify::add_watch(
            &fd,
            path,
            inotify::WatchFlags::MODIFY | inotify::WatchFlags::CLOSE_WRITE,
        )?;
        // SAFETY: `register_with_interest` needs the fd to stay open and the same for the
        // `AsyncFd`'s lifetime. It is an `OwnedFd` moved into the `AsyncFd`, which owns it until
        // it is dropped; nothing else can close or replace it.
        #[allow(unsafe_code)]
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(InotifyWatch { fd })
    }

    /// Waits until the file changed since the last call (drains the queued notifications).
    async fn changed(&self) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        loop {
            let mut guard = self.fd.readable().await?;
            let mut woke = false;
            loop {
                match rustix::io::read(guard.get_inner(), &mut buf) {
                    Ok(_) => woke = true,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            guard.clear_ready();
            if woke {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;

    use backup_orchestrator_proto::codec::encode_frame;
    use backup_orchestrator_proto::event::{Log, RunFinished};
    use backup_orchestrator_proto::{LogLevel, Summary};

    use super::*;
    use crate::runlog::{Layout, LogWriter};

    const RUN: &str = "20251103T120000Z-0001";

    /// Alive until `alive_checks` checks have been answered.
    struct Fake {
        alive_checks: usize,
    }

    impl Liveness for Fake {
        async fn is_running(&mut self, _run_id: &str) -> Result<bool, String> {
            if self.alive_checks == 0 {
                return Ok(false);
            }
            self.alive_checks -= 1;
            Ok(true)
        }
    }

    fn fast() -> FollowTimings {
        FollowTimings {
            first_event: Duration::from_millis(300),
            quiet: Duration::from_millis(50),
        }
    }

    fn log(n: u32) -> Event {
        Event::Log(Log {
            level: LogLevel::Info,
            message: format!("line {n}"),
        })
    }

    pub(crate) fn finished() -> Event {
        Event::RunFinished(RunFinished {
            summary: Summary {
                total_services: 0,
                successful: 0,
                failed: 0,
                timed_out: 0,
                skipped: 0,
                failure_rate_percent: 0,
                exit_code: 0,
                warnings: 0,
                run_id: RUN.into(),
                host: "h".into(),
                started_at: "2025-11-03T12:00:00Z".into(),
                duration_ms: 1,
                dry_run: false,
                cancelled: false,
                critical_reason: None,
                units: vec![],
            },
        })
    }

    #[tokio::test]
    async fn follower_replays_then_follows_live_until_run_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = Layout::new(dir.path()).prepare(RUN).unwrap();
        let mut writer = LogWriter::open(&path, Instant::now()).unwrap();
        writer.append(log(0)).unwrap();
        writer.append(log(1)).unwrap();

        let mut follower = Follower::open(&path, RUN, Fake { alive_checks: 1000 }, fast()).unwrap();
        let producer = tokio::spawn(async move {
            for n in 2..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                writer.append(log(n)).unwrap();
            }
            writer.append(finished()).unwrap();
        });
        let mut seqs = Vec::new();
        while let Some(envelope) = follower.next().await.unwrap() {
            seqs.push(envelope.seq);
        }
        assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
        producer.await.unwrap();
    }

    #[tokio::test]
    async fn follower_is_woken_by_the_write_itself_not_by_its_quiet_timer() {
        let dir = tempfile::tempdir().unwrap();
        let path = Layout::new(dir.path()).prepare(RUN).unwrap();
        let mut writer = LogWriter::open(&path, Instant::now()).unwrap();
        let slow = FollowTimings {
            first_event: Duration::from_secs(60),
            quiet: Duration::from_secs(60),
        };
        let mut follower = Follower::open(&path, RUN, Fake { alive_checks: 1000 }, slow).unwrap();
        assert!(
            matches!(follower.watch, Watch::Dir(_)),
            "{:?}",
            follower.watch
        );
        let producer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.append(log(0)).unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.append(finished()).unwrap();
        });
        let started = Instant::now();
        assert_eq!(follower.next().await.unwrap().map(|e| e.seq), Some(0));
        assert_eq!(follower.next().await.unwrap().map(|e| e.seq), Some(1));
        assert!(follower.next().await.unwrap().is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        producer.await.unwrap();
    }

    #[tokio::test]
    async fn follower_waits_for_the_rest_of_a_frame_written_in_two_parts() {
        let dir = tempfile::tempdir().unwrap();
        let path = Layout::new(dir.path()).prepare(RUN).unwrap();
        let envelope = Envelope {
            seq: 0,
            at_ms: 1,
            elapsed_ms: 0,
            event: finished(),
        };
        let frame = encode_frame(&envelope).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&frame[..7]).unwrap();

        let mut follower = Follower::open(&path, RUN, Fake { alive_checks: 1000 }, fast()).unwrap();
        let rest = frame[7..].to_vec();
        let producer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(120)).await;
            file.write_all(&rest).unwrap();
        });
        assert_eq!(follower.next().await.unwrap(), Some(envelope));
        assert_eq!(follower.next().await.unwrap(), None);
        producer.await.unwrap();
    }

    #[tokio::test]
    async fn follower_reports_an_abandoned_run_when_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = Layout::new(dir.path()).prepare(RUN).unwrap();
        let mut writer = LogWriter::open(&path, Instant::now()).unwrap();
        writer.append(log(0)).unwrap();

        let mut follower = Follower::open(&path, RUN, Fake { alive_checks: 2 }, fast()).unwrap();
        assert_eq!(follower.next().await.unwrap().map(|e| e.seq), Some(0));
        let started = Instant::now();
        let err = follower.next().await.unwrap_err();
        assert!(matches!(err, LogFollowError::Abandoned { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn follower_gives_up_when_a_live_run_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = Layout::new(dir.path()).prepare(RUN).unwrap();
        let mut follower = Follower::open(&path, RUN, Fake { alive_checks: 1000 }, fast()).unwrap();
        let err = follower.next().await.unwrap_err();
        assert!(matches!(err, LogFollowError::NeverStarted { .. }), "{err}");
    }
}
