//! The final report, as the user's script printed its last stage: counts, the failed units, then the
//! verdict (✅ all good, ⚠️ partial failure within the threshold, ❌ critical).
//!
//! Built from the [`Summary`] alone (plus the stage count and threshold from the view when it saw
//! `RunStarted`), so a front end that only has a summary still prints the whole report.

use backup_orchestrator_proto::{Outcome, Summary, exit_codes};

use crate::format;
use crate::lines::Line;
use crate::view::RunView;

pub(crate) fn report_lines(view: &RunView, summary: &Summary) -> Vec<Line> {
    let mut lines = vec![
        Line::info(format!(
            "Stage {}: Verification and Final Report",
            view.stage_count() + 1
        )),
        Line::info(format!("Total services: {}", summary.total_services)),
    ];

    if summary.dry_run {
        let planned = summary
            .units
            .iter()
            .filter(|u| u.outcome == Outcome::Planned)
            .count();
        lines.push(Line::info(format!(
            "Dry run: {} would be started, nothing was started",
            format::count(planned, "unit")
        )));
        if let Some(reason) = &summary.critical_reason {
            lines.push(Line::error(format!("❌ Critical failure: {reason}")));
        }
        return lines;
    }

    lines.extend([
        Line::info(format!("Successful: {}", summary.successful)),
        Line::info(format!("Failed: {}", summary.failed)),
        Line::info(format!("Timed out: {}", summary.timed_out)),
        Line::info(format!("Skipped (already running): {}", summary.skipped)),
        Line::info(format!("Warnings: {}", summary.warnings)),
        Line::info(format!(
            "Duration: {}",
            format::duration_ms(summary.duration_ms)
        )),
        Line::debug(format!("Run id: {}", summary.run_id)),
    ]);

    let failed: Vec<_> = summary
        .units
        .iter()
        .filter(|u| matches!(u.outcome, Outcome::Failed | Outcome::TimedOut))
        .collect();
    if !failed.is_empty() {
        lines.push(Line::error("Failed services:"));
        for u in failed {
            let what = if u.outcome == Outcome::TimedOut {
                let running = if u.still_running {
                    " (still running)"
                } else {
                    ""
                };
                format!("timed out{running}")
            } else {
                u.result.clone().unwrap_or_else(|| "failed".to_owned())
            };
            lines.push(Line::error(format!("  - {}: {what}", u.unit)));
        }
    }
    let warned: Vec<_> = summary
        .units
        .iter()
        .filter(|u| u.outcome == Outcome::Warning)
        .collect();
    if !warned.is_empty() {
        lines.push(Line::warn("Warnings (failures that do not count):"));
        for u in warned {
            let result = u.result.as_deref().unwrap_or("failed");
            lines.push(Line::warn(format!("  - {}: {result}", u.unit)));
        }
    }
    let skipped: Vec<_> = summary
        .units
        .iter()
        .filter(|u| u.outcome == Outcome::Skipped)
        .collect();
    if !skipped.is_empty() {
        lines.push(Line::debug("Skipped services:"));
        for u in skipped {
            lines.push(Line::debug(format!("  - {}", u.unit)));
        }
    }

    if summary.cancelled {
        lines.push(Line::warn("The run was cancelled before every unit ran"));
    }
    lines.extend(verdict(view, summary));
    lines
}

fn verdict(view: &RunView, summary: &Summary) -> Vec<Line> {
    let rate = summary.failure_rate_percent;
    match summary.exit_code {
        exit_codes::SUCCESS => {
            let mut lines = vec![Line::info("✅ All backups completed successfully!")];
            if summary.warnings > 0 {
                lines.push(Line::warn(format!(
                    "Completed with {}: review them above",
                    format::count(summary.warnings as usize, "warning")
                )));
            }
            lines
        }
        exit_codes::PARTIAL_FAILURE => vec![
            Line::warn(format!(
                "⚠️  Partial failure: {rate}% of backups did not complete successfully"
            )),
            Line::warn("This is within acceptable threshold for deployment"),
            Line::warn("Review failures above and proceed with caution"),
        ],
        exit_codes::CRITICAL => match &summary.critical_reason {
            Some(reason) => vec![
                Line::error(format!("Pre-flight check failed: {reason}")),
                Line::error("❌ Critical failure: do not deploy"),
            ],
            None => {
                let threshold = view
                    .failure_threshold_percent()
                    .map_or_else(String::new, |t| format!(" ({t}%)"));
                vec![
                    Line::error(format!(
                        "❌ Critical failure: {rate}% of backups did not complete successfully"
                    )),
                    Line::error(format!(
                        "This is above the acceptable threshold{threshold}: do not deploy"
                    )),
                ]
            }
        },
        other => vec![Line::warn(format!("Finished with exit code {other}"))],
    }
}
