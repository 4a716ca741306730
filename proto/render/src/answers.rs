//! The one-reply answers in words: `status` ([`status_text`]) and `cancel` ([`cancelled_text`]),
//! their `--json` forms ([`status_json`], [`cancelled_json`]) and [`NOTHING_TO_CANCEL`]. Both
//! binaries print these: the controller for each host it asked, the agent for its own host
//! (`sudo backup-orchestrator status`), each with its own attach hint.
//!
//! Every line starts with the host, so the answers of several hosts read apart.

use backup_orchestrator_proto::{RunState, StatusReport};

use crate::printable::printable;

/// Why `cancel` did nothing (the agent's `cancel` exits 3 with it; `serve` refuses with it).
pub const NOTHING_TO_CANCEL: &str = "no backup run in progress on this host: nothing to cancel";

/// `cancel`'s answer: what was asked of the run.
pub fn cancelled_text(host: &str, run_id: &str, stop_units: bool) -> String {
    let units = if stop_units {
        "the running units are being stopped"
    } else {
        "the running units are left to finish (--stop-units stops them)"
    };
    let run_id = printable(run_id);
    format!("{host}: cancelled run {run_id}: no more units will start; {units}\n")
}

/// `status --json`: the report as pretty JSON, with a final newline.
pub fn status_json(report: &StatusReport) -> String {
    // Plain structs with string keys only: serialization cannot fail.
    let mut text = serde_json::to_string_pretty(report).expect("StatusReport serializes to JSON");
    text.push('\n');
    text
}

/// `cancel --json`: `{"host", "run_id", "stop_units"}`, pretty, with a final newline.
pub fn cancelled_json(host: &str, run_id: &str, stop_units: bool) -> String {
    let value = serde_json::json!({
        "host": host,
        "run_id": run_id,
        "stop_units": stop_units,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The status report as lines for a human.
pub fn status_text(host: &str, report: &StatusReport, attach_hint: &str) -> String {
    // Ids, times and unit names come from the host: printable.
    let run = printable(report.run_id.as_deref().unwrap_or("(unknown id)"));
    let started = report
        .started_at
        .as_deref()
        .map(|at| format!(", started {}", printable(at)))
        .unwrap_or_default();
    let mut text = match report.state {
        RunState::Running => {
            let mut text = format!(
                "{host}: run {run} is running{started}: {} of {} units done\n",
                report.units_done, report.units_total
            );
            if !report.running.is_empty() {
                text.push_str(&format!(
                    "{host}: running now: {}\n",
                    printable(&report.running.join(", "))
                ));
            }
            text.push_str(&format!("{host}: follow it with: {attach_hint}\n"));
            text
        }
        RunState::Finished => format!("{host}: the last run, {run}{started}, has finished\n"),
        RunState::Abandoned => format!(
            "{host}: the last run, {run}{started}, ended without a summary (its process was killed \
             or the host rebooted)\n"
        ),
        RunState::None => format!("{host}: no run yet\n"),
        RunState::Unknown => {
            format!("{host}: run {run} is in a state this version does not know\n")
        }
    };
    if let Some(summary) = &report.summary {
        let tally = summary.tally();
        text.push_str(&format!(
            "{host}: exit code {}: {} units, {} successful, {} failed, {} timed out, {} skipped, \
             {} warnings; failure rate {}%{}\n",
            summary.exit_code,
            summary.total_services,
            tally.successful,
            tally.failed,
            tally.timed_out,
            tally.skipped,
            tally.warnings,
            summary.failure_rate_percent,
            if summary.dry_run { " (dry run)" } else { "" },
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_says_what_is_running_and_how_to_follow_it() {
        let report = StatusReport {
            state: RunState::Running,
            run_id: Some("run-7".into()),
            started_at: Some("2025-11-03T02:00:00Z".into()),
            units_done: 5,
            units_total: 15,
            running: vec!["restic-backup-plex.service".into()],
            summary: None,
        };
        let text = status_text("forge", &report, "backup-orchestrator-ctl attach forge");
        assert!(
            text.contains(
                "forge: run run-7 is running, started 2025-11-03T02:00:00Z: 5 of 15 units done"
            ),
            "{text}"
        );
        assert!(text.contains("restic-backup-plex.service"), "{text}");
        assert!(
            text.contains("backup-orchestrator-ctl attach forge"),
            "{text}"
        );
    }

    #[test]
    fn status_text_shows_the_last_summary() {
        let summary = crate::demo_events()
            .into_iter()
            .find_map(|e| match e.event {
                backup_orchestrator_proto::Event::RunFinished(f) => Some(f.summary),
                _ => None,
            })
            .unwrap();
        let report = StatusReport {
            state: RunState::Finished,
            run_id: Some(summary.run_id.clone()),
            started_at: Some(summary.started_at.clone()),
            units_done: summary.total_services,
            units_total: summary.total_services,
            running: vec![],
            summary: Some(summary),
        };
        let text = status_text("forge", &report, "backup-orchestrator-ctl attach forge");
        assert!(text.contains("has finished"), "{text}");
        assert!(
            text.contains("exit code 1: 15 units, 13 successful, 1 failed"),
            "{text}"
        );
        assert!(text.contains("failure rate 6%"), "{text}");
    }
}
