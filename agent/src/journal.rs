//! [`Journal`]: every event of a run, as one readable journal entry tagged `RUN_ID=…`.
//!
//! Written straight to journald's native socket (`/run/systemd/journal/socket`, one datagram per
//! entry), so each entry carries structured fields: `journalctl RUN_ID=20251103T120000Z-ab12` lists a
//! run, `journalctl -u backup-orchestrator` all of them (see [`OBJECT_UNIT`]). The entries go beside the event
//! log, never instead of it: when journald is unavailable they are dropped silently. The words of
//! each entry come from the render crate ([`journal_entry`]); this file only sends them.
//!
//! Entries are handed to a writer thread through a bounded queue, and that thread sends them,
//! blocking, in order. Why not send from the run's thread: a datagram socket holds at most
//! `net.unix.max_dgram_qlen` unread datagrams (10 by default), so a burst of events (seven units
//! started at once) meets a full socket even while journald is well: measured, a non-blocking
//! send dropped 6 of 15 "starting" entries of an ordinary run. And a blocking send on the run's
//! own thread stopped the run, timers included, whenever journald stalled (a 5 s run took 34 s
//! with journald SIGSTOPped). So the run only queues; a queue that is full means journald has
//! stopped taking entries ([`QUEUE`] of them), and then an entry is dropped and counted. At the
//! end, [`Journal::finish`] waits a bounded time for the queue to drain and counts what is left
//! ([`Journal::dropped`]); the run says how many at its end.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use backup_orchestrator_proto::Event;
use backup_orchestrator_render::{JournalPriority, journal_entry};

const SOCKET: &str = "/run/systemd/journal/socket";
const IDENTIFIER: &str = "backup-orchestrator";
/// Named in every entry as the unit it is about, so that `journalctl -u backup-orchestrator` (the
/// user's runbook) lists every run's lines, however the run was started. journalctl matches
/// `OBJECT_SYSTEMD_UNIT=` of entries logged by root (`_UID=0`) as `-u`'s unit; the run logs as
/// root. No unit of that name exists (the run's is `backup-orchestrator-run.service`, the timer's
/// `backup-orchestrator-scheduled.service`), so nothing else lands there.
const OBJECT_UNIT: &str = "backup-orchestrator.service";
/// Entries waiting for journald: a few runs' worth (an entry is a few hundred bytes).
const QUEUE: usize = 4096;
/// How long the end of a run (or of a run that could not start) waits for journald to take what
/// is queued: long enough for a busy journald, short enough that a stopped one holds up little.
const DRAIN: Duration = Duration::from_secs(2);

/// A connection to journald for one run's entries.
#[derive(Debug)]
pub struct Journal {
    /// The writer thread's queue; `None` when journald is unavailable, or after [`Journal::finish`].
    queue: Option<Writer>,
    run_id: String,
    /// Entries journald did not get: the queue was full, or they were left at the end.
    dropped: u64,
    /// How long [`Journal::finish`] waits for the queue to drain.
    drain: Duration,
}

#[derive(Debug)]
struct Writer {
    entries: SyncSender<Vec<u8>>,
    /// Disconnects when the writer thread has sent everything and ended.
    ended: Receiver<()>,
    queued: u64,
    /// Entries the thread is done with (sent, or failed: journald gone).
    handled: Arc<AtomicU64>,
}

impl Journal {
    /// Connects to journald; an unavailable journal gives a `Journal` that drops entries.
    pub fn open(run_id: &str) -> Journal {
        Journal::connect(Path::new(SOCKET), run_id, DRAIN)
    }

    fn connect(socket: &Path, run_id: &str, drain: Duration) -> Journal {
        let queue = UnixDatagram::unbound()
            .and_then(|s| s.connect(socket).map(|()| s))
            .and_then(start_writer)
            .inspect_err(|e| tracing::debug!("journal unavailable: {e}"))
            .ok();
        Journal {
            queue,
            run_id: run_id.to_owned(),
            dropped: 0,
            drain,
        }
    }

    /// How many entries journald did not get, so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Logs one event of the run.
    pub fn event(&mut self, event: &Event) {
        let (priority, message) = journal_entry(event);
        self.send(priority, &message, event_kind(event));
    }

    /// Logs a line that is not an event (e.g. why the run could not start).
    pub fn error(&mut self, message: &str) {
        self.send(JournalPriority::Err, message, "error");
    }

    /// Waits a bounded time for journald to take every queued entry; what it did not take counts
    /// as dropped. Nothing is logged after this.
    pub fn finish(&mut self) {
        let Some(writer) = self.queue.take() else {
            return;
        };
        let Writer {
            entries,
            ended,
            queued,
            handled,
        } = writer;
        // The thread ends once the queue is empty and closed.
        drop(entries);
        if let Err(RecvTimeoutError::Timeout) = ended.recv_timeout(self.drain) {
            let left = queued.saturating_sub(handled.load(Ordering::Relaxed));
            self.dropped = self.dropped.saturating_add(left);
        }
    }

    fn send(&mut self, priority: JournalPriority, message: &str, kind: &str) {
        let Some(writer) = &mut self.queue else {
            return;
        };
        let mut entry = Vec::with_capacity(128 + message.len());
        field(&mut entry, "MESSAGE", message);
        field(&mut entry, "PRIORITY", &priority.as_u8().to_string());
        field(&mut entry, "SYSLOG_IDENTIFIER", IDENTIFIER);
        field(&mut entry, "OBJECT_SYSTEMD_UNIT", OBJECT_UNIT);
        field(&mut entry, "RUN_ID", &self.run_id);
        field(&mut entry, "BACKUP_ORCHESTRATOR_EVENT", kind);
        match writer.entries.try_send(entry) {
            Ok(()) => writer.queued += 1,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.dropped += 1,
        }
    }
}

impl Drop for Journal {
    /// A run that ends early (it could not start) still gets its last entries into the journal.
    fn drop(&mut self) {
        self.finish();
    }
}

/// Starts the thread that sends queued entries to `socket`, blocking, in order.
fn start_writer(socket: UnixDatagram) -> io::Result<Writer> {
    let (entries, queue) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
    let (ended_tx, ended) = mpsc::channel::<()>();
    let handled = Arc::new(AtomicU64::new(0));
    let done = Arc::clone(&handled);
    std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || {
            let _ended = ended_tx;
            for entry in queue {
                if let Err(e) = socket.send(&entry) {
                    tracing::debug!("journal entry dropped: {e}");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        })?;
    Ok(Writer {
        entries,
        ended,
        queued: 0,
        handled,
    })
}

/// One field in journald's native format: `KEY=value\n`, or for a value with a newline
/// `KEY\n<u64 LE length><value>\n`.
fn field(entry: &mut Vec<u8>, key: &str, value: &str) {
    entry.extend_from_slice(key.as_bytes());
    if value.contains('\n') {
        entry.push(b'\n');
        entry.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        entry.push(b'=');
    }
    entry.extend_from_slice(value.as_bytes());
    entry.push(b'\n');
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::RunStarted(_) => "run_started",
        Event::PreflightCheck(_) => "preflight_check",
        Event::StageStarted(_) => "stage_started",
        Event::StageFinished(_) => "stage_finished",
        Event::UnitDiscovered(_) => "unit_discovered",
        Event::UnitSkipped(_) => "unit_skipped",
        Event::UnitStarted(_) => "unit_started",
        Event::UnitFinished(_) => "unit_finished",
        Event::UnitTimedOut(_) => "unit_timed_out",
        Event::Log(_) => "log",
        Event::LogIncomplete(_) => "log_incomplete",
        Event::RunFinished(_) => "run_finished",
        Event::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use backup_orchestrator_proto::LogLevel;
    use backup_orchestrator_proto::event::Log;

    use super::*;

    fn line(n: usize) -> Event {
        Event::Log(Log {
            level: LogLevel::Info,
            message: format!("line {n}"),
        })
    }

    /// The entry's MESSAGE field.
    fn message(datagram: &[u8]) -> String {
        let text = String::from_utf8_lossy(datagram);
        let line = text.lines().find(|l| l.starts_with("MESSAGE=")).unwrap();
        line["MESSAGE=".len()..].to_owned()
    }

    #[test]
    fn a_burst_larger_than_the_sockets_queue_reaches_journald_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let journald = UnixDatagram::bind(&path).unwrap();
        let mut journal = Journal::connect(&path, "run-1", Duration::from_secs(10));
        // Far more than a datagram socket holds unread (net.unix.max_dgram_qlen, 10 by default),
        // all sent before journald reads one.
        for n in 0..200 {
            journal.event(&line(n));
        }
        let reader = std::thread::spawn(move || {
            journald
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buf = vec![0; 4096];
            (0..200)
                .map(|_| {
                    let len = journald.recv(&mut buf).unwrap();
                    message(&buf[..len])
                })
                .collect::<Vec<_>>()
        });
        journal.finish();
        let got = reader.join().unwrap();
        assert_eq!(
            got,
            (0..200).map(|n| format!("line {n}")).collect::<Vec<_>>()
        );
        assert_eq!(journal.dropped(), 0);
    }

    #[test]
    fn a_journald_that_reads_nothing_costs_the_run_the_drain_bound_and_the_rest_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let _stalled = UnixDatagram::bind(&path).unwrap();
        let mut journal = Journal::connect(&path, "run-1", Duration::from_millis(200));
        let started = Instant::now();
        let total = QUEUE + 500;
        for n in 0..total {
            journal.event(&line(n));
        }
        let queued = started.elapsed();
        journal.finish();
        let finished = started.elapsed();
        assert!(
            queued < Duration::from_secs(2),
            "queueing blocked: {queued:?}"
        );
        assert!(
            finished < Duration::from_secs(3),
            "finish blocked: {finished:?}"
        );
        // The socket holds a few; the queue's overflow and what is left at the end are dropped.
        let dropped = usize::try_from(journal.dropped()).unwrap();
        assert!(
            dropped >= QUEUE && dropped < total,
            "dropped {dropped} of {total}"
        );
    }

    #[test]
    fn journal_fields_use_the_binary_form_only_for_multiline_values() {
        let mut entry = Vec::new();
        field(&mut entry, "MESSAGE", "one line");
        field(&mut entry, "RUN_ID", "a\nb");
        let mut expected = b"MESSAGE=one line\nRUN_ID\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\n");
        assert_eq!(entry, expected);
    }
}
