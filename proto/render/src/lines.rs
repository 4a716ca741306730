//! [`Line`]: the user's `[INFO] …` text for each event, shared by plain output and the lines printed
//! above the bars.
//!
//! [`event_lines`] is a pure function of the envelope and of the [`RunView`] *before* the envelope
//! is applied, so the same stream always gives the same text, live or replayed. Debug lines are
//! always produced; the sinks drop them unless `--verbose`.

use backup_orchestrator_proto::event::{
    LogIncomplete, PreflightCheck, RunStarted, StageFinished, StageStarted, UnitFinished,
    UnitTimedOut,
};
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Outcome};

use crate::format;
use crate::view::RunView;

/// What happened to a unit, as bars mode marks it in place of its spinner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Success,
    Failed,
    TimedOut,
    Skipped,
    Warning,
    Planned,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Success => "✔",
            Mark::Failed => "✘",
            Mark::TimedOut => "⏱",
            Mark::Skipped => "↷",
            Mark::Warning => "⚠",
            Mark::Planned => "○",
        }
    }
}

/// One line of output, without its level tag or host label (the sinks add them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub level: LogLevel,
    pub text: String,
    /// Set on a unit's final line: bars mode prints the mark instead of the level tag.
    pub mark: Option<Mark>,
    /// `Starting X...`: bars mode shows a spinner instead of printing it.
    pub shown_as_spinner: bool,
}

impl Line {
    pub fn new(level: LogLevel, text: impl Into<String>) -> Line {
        Line {
            level,
            text: text.into(),
            mark: None,
            shown_as_spinner: false,
        }
    }

    pub fn info(text: impl Into<String>) -> Line {
        Line::new(LogLevel::Info, text)
    }

    pub fn warn(text: impl Into<String>) -> Line {
        Line::new(LogLevel::Warn, text)
    }

    pub fn error(text: impl Into<String>) -> Line {
        Line::new(LogLevel::Error, text)
    }

    pub fn debug(text: impl Into<String>) -> Line {
        Line::new(LogLevel::Debug, text)
    }

    fn marked(mut self, mark: Mark) -> Line {
        self.mark = Some(mark);
        self
    }
}

/// `[INFO]`, `[WARN]`, `[ERROR]`, `[DEBUG]`; a level from a newer agent reads as `[INFO]`.
pub(crate) fn level_tag(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "[DEBUG]",
        LogLevel::Info | LogLevel::Unknown => "[INFO]",
        LogLevel::Warn => "[WARN]",
        LogLevel::Error => "[ERROR]",
    }
}

/// The lines for `envelope`, given the view as it was before it.
pub(crate) fn event_lines(view: &RunView, envelope: &Envelope) -> Vec<Line> {
    match &envelope.event {
        Event::RunStarted(run) => run_started(run),
        Event::PreflightCheck(check) => {
            let mut lines = Vec::new();
            if !view.preflight_seen() {
                lines.push(Line::info("Stage 0: Pre-Flight Checks"));
            }
            lines.push(preflight(check));
            lines
        }
        Event::StageStarted(stage) => stage_started(view, stage),
        Event::StageFinished(stage) => vec![stage_finished(stage)],
        Event::UnitDiscovered(u) => vec![Line::debug(format!(
            "Found {} for stage {}",
            u.unit, u.stage
        ))],
        Event::UnitSkipped(u) => vec![
            Line::warn(format!("{} skipped: {}", u.unit, u.reason)).marked(Mark::Skipped),
            Line::debug(format!("{} ActiveState={}", u.unit, u.active_state)),
        ],
        Event::UnitStarted(u) => {
            let mut starting = Line::info(format!("Starting {}...", u.unit));
            starting.shown_as_spinner = true;
            let invocation = u.invocation_id.as_deref().unwrap_or("unknown");
            vec![
                starting,
                Line::debug(format!(
                    "{} invocation {invocation}, timeout {}",
                    u.unit,
                    format::duration_secs(u.timeout_secs)
                )),
            ]
        }
        Event::UnitFinished(u) => unit_finished(view, u),
        Event::UnitTimedOut(u) => vec![unit_timed_out(u)],
        Event::Log(log) => vec![Line::new(log.level, log.message.clone())],
        Event::LogIncomplete(gap) => vec![Line::error(log_incomplete_text(
            view.host().unwrap_or("the host"),
            gap,
        ))],
        Event::RunFinished(_) => Vec::new(),
        Event::Unknown => vec![Line::debug(format!(
            "Ignored event {} of a kind this version does not know (newer agent?)",
            envelope.seq
        ))],
    }
}

/// `event log incomplete on forge: No space left on device (os error 28); 3 events were not
/// written (they are in the host's journal: …)`, for the event and for `status`.
pub fn log_incomplete_text(host: &str, gap: &LogIncomplete) -> String {
    let events = if gap.lost_events == 1 {
        "event was"
    } else {
        "events were"
    };
    format!(
        "event log incomplete on {host}: {}; {} {events} not written (they are in the host's \
         journal: journalctl -u backup-orchestrator-run.service)",
        gap.reason, gap.lost_events
    )
}

fn run_started(run: &RunStarted) -> Vec<Line> {
    let mut lines = vec![Line::info(format!(
        "Backup run {} on {} ({})",
        run.run_id, run.host, run.agent
    ))];
    if run.dry_run {
        lines.push(Line::info("Dry run: nothing will be started"));
    }
    lines.push(Line::debug(format!(
        "Plan: {}, {}, failure threshold {}%",
        run.plan.source,
        format::count(run.plan.stages.len(), "stage"),
        run.plan.failure_threshold_percent
    )));
    lines.push(Line::debug(format!("Started at {}", run.started_at)));
    lines
}

fn preflight(check: &PreflightCheck) -> Line {
    let need = format::size(check.min_free_bytes);
    match (check.passed, check.free_bytes) {
        (true, Some(free)) => Line::info(format!(
            "Disk space check passed: {} has {} available",
            check.path,
            format::size(free)
        )),
        (true, None) => Line::info(format!("Disk space check passed: {}", check.path)),
        (false, Some(free)) => Line::error(format!(
            "Insufficient space on {}: {} available, need {need}",
            check.path,
            format::size(free)
        )),
        (false, None) => Line::error(format!(
            "Cannot check free space on {} (need {need}): {}",
            check.path,
            check.error.as_deref().unwrap_or("unknown error")
        )),
    }
}

fn stage_started(view: &RunView, stage: &StageStarted) -> Vec<Line> {
    let n = stage.units.len();
    let mut how = match n {
        0 => "no units".to_owned(),
        1 => format!("1 unit: {}", stage.units[0]),
        _ if stage.parallel == 1 => format!("{n} units, one at a time"),
        _ if stage.parallel > 0 && (stage.parallel as usize) < n => {
            format!("{n} units, at most {} at once", stage.parallel)
        }
        _ => format!("{n} units, all at once"),
    };
    if view.stage_warns_only(&stage.name) {
        how.push_str(", failures are warnings");
    }
    let mut lines = vec![Line::info(format!(
        "Stage {}: {} ({how})",
        stage.index.saturating_add(1),
        stage.name
    ))];
    if n > 1 {
        lines.push(Line::debug(format!(
            "Stage {} units: {}",
            stage.index.saturating_add(1),
            stage.units.join(", ")
        )));
    }
    lines.push(Line::debug(format!(
        "Stage {} timeout: {} per unit",
        stage.index.saturating_add(1),
        format::duration_secs(stage.timeout_secs)
    )));
    lines
}

fn stage_finished(stage: &StageFinished) -> Line {
    let mut parts = vec![format!("{} succeeded", stage.successful)];
    if stage.failed > 0 {
        parts.push(format!("{} failed", stage.failed));
    }
    if stage.timed_out > 0 {
        parts.push(format!("{} timed out", stage.timed_out));
    }
    if stage.skipped > 0 {
        parts.push(format!("{} skipped", stage.skipped));
    }
    if stage.warnings > 0 {
        parts.push(format::count(stage.warnings as usize, "warning"));
    }
    let text = format!(
        "Stage {} complete: {} ({})",
        stage.index.saturating_add(1),
        parts.join(", "),
        format::duration_ms(stage.duration_ms)
    );
    if stage.failed + stage.timed_out + stage.warnings > 0 {
        Line::warn(text)
    } else {
        Line::info(text)
    }
}

/// `exit-code (exit status 1)`, `signal (signal 9)`, `success`.
fn result_text(u: &UnitFinished) -> String {
    match u.exit_status {
        Some(status) if u.result == "signal" || u.result == "core-dump" => {
            format!("{} (signal {status})", u.result)
        }
        Some(status) if status != 0 || u.result == "exit-code" => {
            format!("{} (exit status {status})", u.result)
        }
        _ => u.result.clone(),
    }
}

fn unit_finished(view: &RunView, u: &UnitFinished) -> Vec<Line> {
    let took = format::duration_ms(u.duration_ms);
    let already_timed_out = view
        .unit(&u.unit)
        .is_some_and(|v| v.outcome == Some(Outcome::TimedOut));
    let line = if already_timed_out {
        Line::warn(format!(
            "{} finished after its timeout with result: {} after {took}",
            u.unit,
            result_text(u)
        ))
    } else {
        match u.outcome {
            Outcome::Success => {
                Line::info(format!("{} succeeded in {took}", u.unit)).marked(Mark::Success)
            }
            Outcome::Failed => Line::warn(format!(
                "{} failed with result: {} after {took}",
                u.unit,
                result_text(u)
            ))
            .marked(Mark::Failed),
            Outcome::Warning => Line::warn(format!(
                "{} failed with result: {} after {took} (a warning only: the run goes on)",
                u.unit,
                result_text(u)
            ))
            .marked(Mark::Warning),
            Outcome::TimedOut => Line::warn(format!(
                "{} timed out after {took} with result: {}",
                u.unit,
                result_text(u)
            ))
            .marked(Mark::TimedOut),
            Outcome::Skipped => {
                Line::warn(format!("{} skipped: {}", u.unit, result_text(u))).marked(Mark::Skipped)
            }
            Outcome::Planned => {
                Line::info(format!("Would start {} (dry run)", u.unit)).marked(Mark::Planned)
            }
            Outcome::Unknown => Line::warn(format!(
                "{} finished with result: {} after {took}",
                u.unit,
                result_text(u)
            ))
            .marked(Mark::Warning),
        }
    };
    let status = u
        .exit_status
        .map_or_else(|| "none".to_owned(), |s| s.to_string());
    let mut lines = vec![line];
    lines.extend(
        crate::unit_journal::journal_texts(u)
            .into_iter()
            .map(Line::warn),
    );
    lines.push(Line::debug(format!(
        "{} Result={} ActiveState={} ExecMainStatus={status}",
        u.unit, u.result, u.active_state
    )));
    lines
}

fn unit_timed_out(u: &UnitTimedOut) -> Line {
    let after = format::duration_secs(u.timeout_secs);
    let state = match (u.still_running, u.stop_requested) {
        (_, true) => ", stopping it",
        (true, false) => ", still running",
        (false, false) => "",
    };
    Line::warn(format!("{} timed out after {after}{state}", u.unit)).marked(Mark::TimedOut)
}
