//! [`Journal`]: every event of a run, as one readable journal entry tagged `RUN_ID=…`.
//!
//! Written straight to journald's native socket (`/run/systemd/journal/socket`, one datagram per
//! entry), so each entry carries structured fields: `journalctl RUN_ID=20251103T120000Z-ab12` lists a
//! run, `journalctl -u backup-orchestrator` all of them (see [`OBJECT_UNIT`]). The entries go beside the event
//! log, never instead of it: when journald is unavailable they are dropped silently. The words of
//! each entry come from the render crate ([`journal_entry`]); this file only sends them.
//!
//! The socket is non-blocking: a stalled journald (stopped, or behind) fills its queue, and a
//! blocking send then stopped the run's only thread, its timers included (a 5 s run took 34 s
//! with journald SIGSTOPped). An entry that does not fit is dropped and counted
//! ([`Journal::dropped`]); the run says how many at its end.

use std::cell::Cell;
use std::io;
use std::os::unix::net::UnixDatagram;

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

/// A connection to journald for one run's entries.
#[derive(Debug)]
pub struct Journal {
    socket: Option<UnixDatagram>,
    run_id: String,
    /// Entries journald could not take (its queue was full).
    dropped: Cell<u64>,
}

impl Journal {
    /// Connects to journald; an unavailable journal gives a `Journal` that drops entries.
    pub fn open(run_id: &str) -> Journal {
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.connect(SOCKET).map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .inspect_err(|e| tracing::debug!("journal unavailable: {e}"))
            .ok();
        Journal {
            socket,
            run_id: run_id.to_owned(),
            dropped: Cell::new(0),
        }
    }

    /// How many entries were dropped because journald did not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Logs one event of the run.
    pub fn event(&self, event: &Event) {
        let (priority, message) = journal_entry(event);
        self.send(priority, &message, event_kind(event));
    }

    /// Logs a line that is not an event (e.g. why the run could not start).
    pub fn error(&self, message: &str) {
        self.send(JournalPriority::Err, message, "error");
    }

    fn send(&self, priority: JournalPriority, message: &str, kind: &str) {
        let Some(socket) = &self.socket else {
            return;
        };
        let mut entry = Vec::with_capacity(128 + message.len());
        field(&mut entry, "MESSAGE", message);
        field(&mut entry, "PRIORITY", &priority.as_u8().to_string());
        field(&mut entry, "SYSLOG_IDENTIFIER", IDENTIFIER);
        field(&mut entry, "OBJECT_SYSTEMD_UNIT", OBJECT_UNIT);
        field(&mut entry, "RUN_ID", &self.run_id);
        field(&mut entry, "BACKUP_ORCHESTRATOR_EVENT", kind);
        match socket.send(&entry) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.dropped.set(self.dropped.get() + 1);
            }
            Err(e) => tracing::debug!("journal entry dropped: {e}"),
        }
    }
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
    use super::*;

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
