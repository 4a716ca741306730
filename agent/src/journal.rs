//! [`Journal`]: every event of a run, as one readable journal entry tagged `RUN_ID=…`.
//!
//! Written straight to journald's native socket (`/run/systemd/journal/socket`, one datagram per
//! entry), so each entry carries structured fields: `journalctl RUN_ID=20251103T120000Z-ab12` lists a
//! run, `journalctl -u backup-orchestrator-run.service` all of them. The entries go beside the event
//! log, never instead of it: when journald is unavailable they are dropped silently.

use std::os::unix::net::UnixDatagram;

use backup_orchestrator_proto::{Event, LogLevel, Outcome};

const SOCKET: &str = "/run/systemd/journal/socket";
const IDENTIFIER: &str = "backup-orchestrator";

/// syslog priorities.
const ERR: u8 = 3;
const WARNING: u8 = 4;
const NOTICE: u8 = 5;
const INFO: u8 = 6;
const DEBUG: u8 = 7;

/// A connection to journald for one run's entries.
#[derive(Debug)]
pub struct Journal {
    socket: Option<UnixDatagram>,
    run_id: String,
}

impl Journal {
    /// Connects to journald; an unavailable journal gives a `Journal` that drops entries.
    pub fn open(run_id: &str) -> Journal {
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.connect(SOCKET).map(|()| s))
            .inspect_err(|e| tracing::debug!("journal unavailable: {e}"))
            .ok();
        Journal {
            socket,
            run_id: run_id.to_owned(),
        }
    }

    /// Logs one event of the run.
    pub fn event(&self, event: &Event) {
        let (priority, message) = describe(event);
        self.send(priority, &message, event_kind(event));
    }

    /// Logs a line that is not an event (e.g. why the run could not start).
    pub fn error(&self, message: &str) {
        self.send(ERR, message, "error");
    }

    fn send(&self, priority: u8, message: &str, kind: &str) {
        let Some(socket) = &self.socket else {
            return;
        };
        let mut entry = Vec::with_capacity(128 + message.len());
        field(&mut entry, "MESSAGE", message);
        field(&mut entry, "PRIORITY", &priority.to_string());
        field(&mut entry, "SYSLOG_IDENTIFIER", IDENTIFIER);
        field(&mut entry, "RUN_ID", &self.run_id);
        field(&mut entry, "BACKUP_ORCHESTRATOR_EVENT", kind);
        if let Err(e) = socket.send(&entry) {
            tracing::debug!("journal entry dropped: {e}");
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
        Event::RunFinished(_) => "run_finished",
        Event::Unknown => "unknown",
    }
}

/// `64GB` (powers of 1024, rounded down, as `df -BG` shows it), `12MB` below a gigabyte.
fn size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    if bytes >= GIB {
        format!("{}GB", bytes / GIB)
    } else {
        format!("{}MB", bytes / MIB)
    }
}

/// The journal priority and a one-line message for an event.
pub fn describe(event: &Event) -> (u8, String) {
    match event {
        Event::RunStarted(e) => (
            NOTICE,
            format!(
                "run {} started on {} ({}, plan {}){}",
                e.run_id,
                e.host,
                e.agent,
                e.plan.source,
                if e.dry_run { ", dry run" } else { "" }
            ),
        ),
        Event::PreflightCheck(e) => {
            let free = e.free_bytes.map_or_else(|| "unknown".to_owned(), size);
            let mut line = format!(
                "preflight {}: {free} free, need {}",
                e.path,
                size(e.min_free_bytes)
            );
            if let Some(error) = &e.error {
                line.push_str(&format!(" ({error})"));
            }
            if e.passed {
                (INFO, format!("{line}: passed"))
            } else {
                (ERR, format!("{line}: failed"))
            }
        }
        Event::StageStarted(e) => (
            INFO,
            format!(
                "stage {} {}: {} unit(s): {}",
                e.index,
                e.name,
                e.units.len(),
                e.units.join(", ")
            ),
        ),
        Event::StageFinished(e) => (
            INFO,
            format!(
                "stage {} {} finished in {} ms: {} successful, {} failed, {} timed out, {} skipped, {} warning(s)",
                e.index,
                e.name,
                e.duration_ms,
                e.successful,
                e.failed,
                e.timed_out,
                e.skipped,
                e.warnings
            ),
        ),
        Event::UnitDiscovered(e) => (DEBUG, format!("{}: found {}", e.stage, e.unit)),
        Event::UnitSkipped(e) => (
            NOTICE,
            format!("{}: skipped {}: {}", e.stage, e.unit, e.reason),
        ),
        Event::UnitStarted(e) => (INFO, format!("{}: starting {}", e.stage, e.unit)),
        Event::UnitFinished(e) => {
            let priority = match e.outcome {
                Outcome::Failed | Outcome::TimedOut => ERR,
                Outcome::Warning => WARNING,
                _ => INFO,
            };
            let status = e
                .exit_status
                .map(|s| format!(", exit status {s}"))
                .unwrap_or_default();
            (
                priority,
                format!(
                    "{}: {} {} (result {}{status}) after {} ms",
                    e.stage,
                    e.unit,
                    e.outcome.as_str(),
                    e.result,
                    e.duration_ms
                ),
            )
        }
        Event::UnitTimedOut(e) => (
            ERR,
            format!(
                "{}: {} timed out after {}s{}",
                e.stage,
                e.unit,
                e.timeout_secs,
                if e.stop_requested {
                    ", stopping it"
                } else if e.still_running {
                    ", left running"
                } else {
                    ""
                }
            ),
        ),
        Event::Log(e) => (
            match e.level {
                LogLevel::Error => ERR,
                LogLevel::Warn => WARNING,
                LogLevel::Debug => DEBUG,
                _ => INFO,
            },
            e.message.clone(),
        ),
        Event::RunFinished(e) => {
            let s = &e.summary;
            (
                if s.exit_code == 0 { NOTICE } else { ERR },
                format!(
                    "run {} finished with exit code {}: {} services, {} successful, {} failed, {} timed out, {} skipped, {} warning(s), failure rate {}%{}",
                    s.run_id,
                    s.exit_code,
                    s.total_services,
                    s.successful,
                    s.failed,
                    s.timed_out,
                    s.skipped,
                    s.warnings,
                    s.failure_rate_percent,
                    if s.cancelled { ", cancelled" } else { "" }
                ),
            )
        }
        Event::Unknown => (DEBUG, "unknown event".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_sizes_read_like_df() {
        assert_eq!(size(64 * 1024 * 1024 * 1024 + 5), "64GB");
        assert_eq!(size(3 * 1024 * 1024), "3MB");
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
