//! [`journal_entry`]: each event of a run as one line in the host's journal, with its syslog
//! priority. The agent's run writes them (tagged `RUN_ID=…`) beside its event log; these are the
//! words, the agent only sends them.
//!
//! One line per event, complete on its own (`journalctl RUN_ID=…` shows it without the others):
//! `stage 1 replication: syncoid-tank.service failed (result exit-code, exit status 1) after 48312 ms`.
//! Sizes read like the terminal's (`64GB`, see `format.rs`); durations are exact milliseconds.

use backup_orchestrator_proto::{Event, LogLevel, Outcome};

use crate::format;

/// A journal entry's syslog priority (`PRIORITY=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum JournalPriority {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl JournalPriority {
    /// The number journald reads.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// The journal priority and the one-line message of an event.
pub fn journal_entry(event: &Event) -> (JournalPriority, String) {
    match event {
        Event::RunStarted(e) => (
            JournalPriority::Notice,
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
            let free = e
                .free_bytes
                .map_or_else(|| "unknown".to_owned(), format::size);
            let mut line = format!(
                "preflight {}: {free} free, need {}",
                e.path,
                format::size(e.min_free_bytes)
            );
            if let Some(error) = &e.error {
                line.push_str(&format!(" ({error})"));
            }
            if e.passed {
                (JournalPriority::Info, format!("{line}: passed"))
            } else {
                (JournalPriority::Err, format!("{line}: failed"))
            }
        }
        Event::StageStarted(e) => (
            JournalPriority::Info,
            format!(
                "stage {} {}: {} unit(s): {}",
                e.index,
                e.name,
                e.units.len(),
                e.units.join(", ")
            ),
        ),
        Event::StageFinished(e) => (
            JournalPriority::Info,
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
        Event::UnitDiscovered(e) => (
            JournalPriority::Debug,
            format!("{}: found {}", e.stage, e.unit),
        ),
        Event::UnitSkipped(e) => (
            JournalPriority::Notice,
            format!("{}: skipped {}: {}", e.stage, e.unit, e.reason),
        ),
        Event::UnitStarted(e) => (
            JournalPriority::Info,
            format!("{}: starting {}", e.stage, e.unit),
        ),
        Event::UnitFinished(e) => {
            let priority = match e.outcome {
                Outcome::Failed | Outcome::TimedOut => JournalPriority::Err,
                Outcome::Warning => JournalPriority::Warning,
                _ => JournalPriority::Info,
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
            JournalPriority::Err,
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
                LogLevel::Error => JournalPriority::Err,
                LogLevel::Warn => JournalPriority::Warning,
                LogLevel::Debug => JournalPriority::Debug,
                _ => JournalPriority::Info,
            },
            e.message.clone(),
        ),
        Event::LogIncomplete(e) => (
            JournalPriority::Err,
            format!(
                "event log incomplete: {}; {} event(s) were not written to it",
                e.reason, e.lost_events
            ),
        ),
        Event::RunFinished(e) => {
            let s = &e.summary;
            (
                if s.exit_code == 0 {
                    JournalPriority::Notice
                } else {
                    JournalPriority::Err
                },
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
        Event::Unknown => (JournalPriority::Debug, "unknown event".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_proto::event::{PreflightCheck, UnitRef};

    use super::*;

    #[test]
    fn journal_sizes_read_like_df() {
        let (priority, line) = journal_entry(&Event::PreflightCheck(PreflightCheck {
            path: "/mnt/nas-backup".into(),
            min_free_bytes: 50 * 1024 * 1024 * 1024,
            free_bytes: Some(64 * 1024 * 1024 * 1024 + 5),
            passed: true,
            error: None,
        }));
        assert_eq!(priority, JournalPriority::Info);
        assert_eq!(
            line,
            "preflight /mnt/nas-backup: 64GB free, need 50GB: passed"
        );
        let (priority, line) = journal_entry(&Event::PreflightCheck(PreflightCheck {
            path: "/mnt/nas-backup".into(),
            min_free_bytes: 50 * 1024 * 1024 * 1024,
            free_bytes: Some(3 * 1024 * 1024),
            passed: false,
            error: None,
        }));
        assert_eq!(
            (priority.as_u8(), line.as_str()),
            (3, "preflight /mnt/nas-backup: 3MB free, need 50GB: failed")
        );
    }

    #[test]
    fn a_discovered_unit_is_a_debug_line() {
        let (priority, line) = journal_entry(&Event::UnitDiscovered(UnitRef {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
        }));
        assert_eq!(
            (priority.as_u8(), line.as_str()),
            (7, "replication: found syncoid-a.service")
        );
    }
}
