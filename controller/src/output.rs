//! Everything the controller prints on stdout, and the run display: [`Output`].
//!
//! A run is shown by `backup-orchestrator-render`'s [`Renderer`] (bars on a terminal, plain
//! `[INFO] forge: …` lines otherwise, the summary JSON with `--json`, errors only with `--quiet`),
//! the same renderer the agent uses on the host, so both show the same numbers. `status` and
//! `cancel` print their single answer here too.
//!
//! A closed stdout (`| head`) is not an error: output stops, the run is still followed to its end
//! and the exit code still tells its verdict.

use std::io::{self, IsTerminal, Write};

use backup_orchestrator_proto::{Envelope, LogLevel, RunState, StatusReport, Summary};
use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer};

use crate::error::CtlError;
use crate::session::EventSink;

/// The run display and our stdout.
#[derive(Debug)]
pub struct Output {
    renderer: Renderer,
    mode: OutputMode,
    /// stdout went away: print nothing more.
    broken: bool,
}

impl Output {
    /// Chooses the mode from `--json`, `--quiet` and the terminal: bars only when both stdout and
    /// stderr are terminals, so `ctl forge | tee log` keeps plain lines.
    pub fn new(json: bool, quiet: bool, verbose: bool, host_label: Option<String>) -> Output {
        let terminal = io::stdout().is_terminal() && io::stderr().is_terminal();
        let mode = OutputMode::choose(json, quiet, terminal);
        let renderer = Renderer::new(RenderOptions {
            mode,
            verbose,
            host_label,
        });
        Output {
            renderer,
            mode,
            broken: false,
        }
    }

    /// The final report (or the summary JSON).
    pub fn finish(&mut self, summary: &Summary) -> Result<(), CtlError> {
        let result = self.renderer.finish(summary);
        self.tolerate_broken_pipe(result).map_err(CtlError::Output)
    }

    /// `status`: plain lines, or the report as JSON. `attach_hint` is the command that follows
    /// a running run.
    pub fn status(
        &mut self,
        host: &str,
        report: &StatusReport,
        attach_hint: &str,
    ) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => json_line(report)?,
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => status_text(host, report, attach_hint),
        };
        self.print(&text)
    }

    /// `cancel`: what was asked of the run.
    pub fn cancelled(
        &mut self,
        host: &str,
        run_id: &str,
        stop_units: bool,
    ) -> Result<(), CtlError> {
        let text = match self.mode {
            OutputMode::Json => json_line(&serde_json::json!({
                "host": host,
                "run_id": run_id,
                "stop_units": stop_units,
            }))?,
            OutputMode::Quiet => return Ok(()),
            OutputMode::Bars | OutputMode::Plain => {
                let units = if stop_units {
                    "the running units are being stopped"
                } else {
                    "the running units are left to finish (--stop-units stops them)"
                };
                format!("{host}: cancelled run {run_id}: no more units will start; {units}\n")
            }
        };
        self.print(&text)
    }

    fn print(&mut self, text: &str) -> Result<(), CtlError> {
        if self.broken {
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        let result = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush());
        self.tolerate_broken_pipe(result).map_err(CtlError::Output)
    }

    fn tolerate_broken_pipe(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl EventSink for Output {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        let result = self.renderer.event(envelope);
        self.tolerate_broken_pipe(result)
    }

    fn message(&mut self, level: LogLevel, text: &str) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        let result = self.renderer.message(level, text);
        self.tolerate_broken_pipe(result)
    }
}

fn json_line<T: serde::Serialize>(value: &T) -> Result<String, CtlError> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| CtlError::Output(io::Error::other(e)))?;
    text.push('\n');
    Ok(text)
}

/// The status report as lines for a human.
pub fn status_text(host: &str, report: &StatusReport, attach_hint: &str) -> String {
    let run = report.run_id.as_deref().unwrap_or("(unknown id)");
    let started = report
        .started_at
        .as_deref()
        .map(|at| format!(", started {at}"))
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
                    report.running.join(", ")
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
        text.push_str(&format!(
            "{host}: exit code {}: {} units, {} successful, {} failed, {} timed out, {} skipped, \
             {} warnings; failure rate {}%{}\n",
            summary.exit_code,
            summary.total_services,
            summary.successful,
            summary.failed,
            summary.timed_out,
            summary.skipped,
            summary.warnings,
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
        let summary = backup_orchestrator_render::demo_events()
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
