//! `status`: the running or last run: state, id, start, units done/total, running units
//! (`--json`: the [`StatusReport`] as JSON, the finished run's summary included). Exit 0 whenever
//! the status could be read.

use std::io::Write;

use backup_orchestrator_proto::{RunState, StatusReport, exit_codes};

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::runs::host::Host;

pub async fn status(global: &GlobalArgs) -> Result<i32, CliError> {
    let host = Host::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let report = host
        .status()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let text = if global.json {
        let mut json = serde_json::to_string_pretty(&report).unwrap_or_default();
        json.push('\n');
        json
    } else if global.quiet {
        String::new()
    } else {
        status_text(&report)
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(CliError::output)?;
    Ok(exit_codes::SUCCESS)
}

/// The human form of a status report.
pub fn status_text(report: &StatusReport) -> String {
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
            status_text(&report),
            "run 20251103T120000Z-ab12: running, started 2025-11-03T12:00:00Z\n\
             units: 3 of 15 done\n\
             running: syncoid-a.service, syncoid-b.service\n\
             follow it with: backup-orchestrator attach\n"
        );
    }
}
