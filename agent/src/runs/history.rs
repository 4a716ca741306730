//! [`history`]: the runs kept on this host (`history`, the controller's `History` request), each
//! as a [`RunRecord`] read from its event log.

use backup_orchestrator_proto::{RunHistory, RunRecord, RunState};

use super::status::status_report;
use crate::runlog::{self, Layout};

/// Every kept run, oldest first; `running`: the id of the run whose process is alive, if any (a run
/// without a summary is `Running` if it is that one, else `Abandoned`).
pub fn history(layout: &Layout, running: Option<&str>) -> RunHistory {
    let mut runs: Vec<(Option<u64>, RunRecord)> = layout
        .run_ids()
        .into_iter()
        .map(|run_id| {
            // An unreadable log is a run with no events: abandoned, unless it is the running one.
            let events = runlog::read_all(&layout.events_path(&run_id))
                .map(|contents| contents.events)
                .unwrap_or_default();
            let alive = running == Some(run_id.as_str());
            // An id names its start to the second only (two runs in one second sort by their
            // random suffix): the first event's millisecond time orders them.
            let first_at_ms = events.first().map(|envelope| envelope.at_ms);
            let report = status_report(&run_id, &events, alive);
            let mut record = RunRecord {
                run_id,
                started_at: report.started_at,
                state: report.state,
                duration_ms: None,
                exit_code: None,
                total_services: report.units_total,
                successful: 0,
                failed: 0,
                timed_out: 0,
                skipped: 0,
                warnings: 0,
                cancelled: false,
                critical_reason: None,
            };
            if let Some(summary) = report
                .summary
                .filter(|_| record.state == RunState::Finished)
            {
                record.duration_ms = Some(summary.duration_ms);
                record.exit_code = Some(summary.exit_code);
                record.total_services = summary.total_services;
                record.successful = summary.successful;
                record.failed = summary.failed;
                record.timed_out = summary.timed_out;
                record.skipped = summary.skipped;
                record.warnings = summary.warnings;
                record.cancelled = summary.cancelled;
                record.critical_reason = summary.critical_reason;
            }
            (first_at_ms, record)
        })
        .collect();
    // Stable: runs without a readable first event keep their id order.
    runs.sort_by(|(a, x), (b, y)| match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        _ => x.run_id.cmp(&y.run_id),
    });
    RunHistory {
        runs: runs.into_iter().map(|(_, record)| record).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use backup_orchestrator_proto::event::{Log, RunFinished};
    use backup_orchestrator_proto::{Event, LogLevel, Summary};

    use super::*;
    use crate::runlog::LogWriter;

    fn summary(run_id: &str, exit_code: i32, failed: u32) -> Summary {
        Summary {
            total_services: 3,
            successful: 3 - failed,
            failed,
            timed_out: 0,
            skipped: 0,
            failure_rate_percent: failed * 100 / 3,
            exit_code,
            warnings: 0,
            run_id: run_id.into(),
            host: "h".into(),
            started_at: "2025-11-03T12:00:00Z".into(),
            duration_ms: 1500,
            dry_run: false,
            cancelled: false,
            critical_reason: None,
            units: vec![],
        }
    }

    #[test]
    fn history_lists_finished_running_and_abandoned_runs_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let ids = [
            "20251103T120000Z-0001",
            "20251104T120000Z-0002",
            "20251105T120000Z-0003",
            "20251106T120000Z-0004",
        ];
        for (n, id) in ids.iter().enumerate() {
            let events = layout.prepare(id).unwrap();
            let mut writer = LogWriter::open(&events, Instant::now()).unwrap();
            writer
                .append(Event::Log(Log {
                    level: LogLevel::Info,
                    message: "started".into(),
                }))
                .unwrap();
            if n < 2 {
                let s = summary(id, i32::try_from(n).unwrap(), u32::try_from(n).unwrap());
                writer
                    .append(Event::RunFinished(RunFinished { summary: s }))
                    .unwrap();
            }
        }
        let history = history(&layout, Some(ids[3]));
        let seen: Vec<_> = history
            .runs
            .iter()
            .map(|r| (r.run_id.as_str(), r.state, r.exit_code, r.failed))
            .collect();
        assert_eq!(
            seen,
            [
                (ids[0], RunState::Finished, Some(0), 0),
                (ids[1], RunState::Finished, Some(1), 1),
                (ids[2], RunState::Abandoned, None, 0),
                (ids[3], RunState::Running, None, 0),
            ]
        );
        assert_eq!(history.runs[1].duration_ms, Some(1500));
        assert_eq!(
            history.runs[2].started_at.as_deref(),
            Some("2025-11-05T12:00:00Z")
        );
    }
}
