//! The agent's answers on the host itself (`sudo backup-orchestrator status`, `… cancel`), in
//! words: [`agent_status_text`], [`agent_cancel_text`], [`agent_cancel_json`], and
//! [`NOTHING_TO_CANCEL`], the refusal both the agent's `cancel` and its `serve` give.
//!
//! One host, so no host column; the hints name the agent's own commands.

use backup_orchestrator_proto::{RunState, StatusReport};

/// Why `cancel` did nothing (the agent's `cancel` exits 3 with it; `serve` refuses with it).
pub const NOTHING_TO_CANCEL: &str = "no backup run in progress on this host: nothing to cancel";

/// `backup-orchestrator status`: state, id and start, units done/total, the running units, the
/// finished run's result, and how to follow a running run.
pub fn agent_status_text(report: &StatusReport) -> String {
    let id = report.run_id.as_deref().unwrap_or("-");
    let started = report.started_at.as_deref().unwrap_or("unknown");
    let mut text = match report.state {
        RunState::None => return "no backup run on this host yet\n".to_owned(),
        RunState::Running => format!("run {id}: running, started {started}\n"),
        RunState::Finished => format!("run {id}: finished, started {started}\n"),
        RunState::Abandoned => format!(
            "run {id}: abandoned (its process ended without a summary), started {started}\n"
        ),
        RunState::Unknown => format!("run {id}: state unknown, started {started}\n"),
    };
    text.push_str(&format!(
        "units: {} of {} done\n",
        report.units_done, report.units_total
    ));
    if !report.running.is_empty() {
        text.push_str(&format!("running: {}\n", report.running.join(", ")));
    }
    if let Some(s) = &report.summary {
        text.push_str(&format!(
            "result: exit code {}: {} successful, {} failed, {} timed out, {} skipped, {} warnings; failure rate {}%{}\n",
            s.exit_code,
            s.successful,
            s.failed,
            s.timed_out,
            s.skipped,
            s.warnings,
            s.failure_rate_percent,
            if s.cancelled { " (cancelled)" } else { "" }
        ));
    }
    if report.state == RunState::Running {
        text.push_str("follow it with: backup-orchestrator attach\n");
    }
    text
}

/// `backup-orchestrator cancel`: what was asked of `run` (`run ID (started AT)`), one line.
pub fn agent_cancel_text(run: &str, stop_units: bool) -> String {
    let what = if stop_units {
        "no more units will start and the running ones are being stopped"
    } else {
        "no more units will start; the running ones finish (--stop-units stops them)"
    };
    format!("cancel requested for {run}: {what}; follow it with: backup-orchestrator attach\n")
}

/// `backup-orchestrator cancel --json`: `{"cancelled":true,"run_id":…,"stop_units":…}`, one line.
pub fn agent_cancel_json(run_id: &str, stop_units: bool) -> String {
    let json = serde_json::json!({ "cancelled": true, "run_id": run_id, "stop_units": stop_units });
    format!("{json}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_names_state_id_progress_and_running_units() {
        let report = StatusReport {
            state: RunState::Running,
            run_id: Some("20251103T120000Z-ab12".into()),
            started_at: Some("2025-11-03T12:00:00Z".into()),
            units_done: 3,
            units_total: 15,
            running: vec!["syncoid-a.service".into(), "syncoid-b.service".into()],
            summary: None,
        };
        assert_eq!(
            agent_status_text(&report),
            "run 20251103T120000Z-ab12: running, started 2025-11-03T12:00:00Z\n\
             units: 3 of 15 done\n\
             running: syncoid-a.service, syncoid-b.service\n\
             follow it with: backup-orchestrator attach\n"
        );
    }

    #[test]
    fn cancel_answers_say_what_happens_to_the_running_units() {
        assert_eq!(
            agent_cancel_text("run 20251103T120000Z-ab12", true),
            "cancel requested for run 20251103T120000Z-ab12: no more units will start and the \
             running ones are being stopped; follow it with: backup-orchestrator attach\n"
        );
        assert_eq!(
            agent_cancel_json("20251103T120000Z-ab12", false),
            "{\"cancelled\":true,\"run_id\":\"20251103T120000Z-ab12\",\"stop_units\":false}\n"
        );
    }
}
