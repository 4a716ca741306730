//! [`Bars`]: the terminal view, an indicatif [`MultiProgress`] on stderr.
//!
//! ```text
//! [INFO] Stage 2: replication (7 units, all at once)        ← lines, printed above the bars
//! ✔ syncoid-tank-services-sonarr.service succeeded in 1m 12s ← a unit's mark replaces its spinner
//! ✘ syncoid-tank-services-prowlarr.service failed with result: exit-code (exit status 1) after 48.3s
//! Stage 2 [██████████░░░░░░░░░░] 3/7 replication: 2 ok, 1 failed   ← one bar per running stage
//!   ⠙ syncoid-tank-services-plex.service 00:02:41                  ← one spinner per running unit
//! ```
//!
//! Everything printed goes through the renderer's own writer inside [`MultiProgress::suspend`], so
//! lines never tear a bar and a broken pipe comes back as an `io::Error`. Redraws are capped by the
//! draw target (10 Hz in [`Bars::stderr`]) and spinners tick every 120 ms, so a two-hour run costs
//! next to no CPU.
//!
//! Elapsed times come from the run's own clock: a spinner starts at the time the unit has already
//! been running according to the envelopes (or, for a unit started before an attach, according to
//! its `at_ms`, bounded by its timeout), and every event moves the spinners forward to the run time
//! it carries. A replayed run therefore shows its real durations, and the marks print the durations
//! from the events, never the replay's zero.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backup_orchestrator_proto::event::{StageStarted, UnitStarted};
use backup_orchestrator_proto::{Envelope, Event, LogLevel};
use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::format;
use crate::lines::{Line, Mark, level_tag};
use crate::printable::printable;
use crate::view::{RunView, StageView};

const REFRESH_HZ: u8 = 10;
const SPINNER_TICK: Duration = Duration::from_millis(120);

struct Spinner {
    bar: ProgressBar,
    stage: String,
    /// Run time of the unit's start.
    started_ms: u64,
}

pub(crate) struct Bars {
    multi: MultiProgress,
    err: Box<dyn Write + Send>,
    color: bool,
    verbose: bool,
    host_label: Option<String>,
    stage_bars: HashMap<String, ProgressBar>,
    spinners: HashMap<String, Spinner>,
}

impl Bars {
    /// Bars on the terminal's stderr, colored when the terminal takes colors.
    pub fn stderr(verbose: bool, host_label: Option<String>) -> Bars {
        Bars::new(
            Box::new(io::stderr()),
            ProgressDrawTarget::stderr_with_hz(REFRESH_HZ),
            console::colors_enabled_stderr(),
            verbose,
            host_label,
        )
    }

    pub fn new(
        err: Box<dyn Write + Send>,
        target: ProgressDrawTarget,
        color: bool,
        verbose: bool,
        host_label: Option<String>,
    ) -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(target),
            err,
            color,
            verbose,
            host_label,
            stage_bars: HashMap::new(),
            spinners: HashMap::new(),
        }
    }

    /// Moves the bars to the state of `view` (already updated with `envelope`), then prints `lines`
    /// above them: a unit's mark appears as its spinner goes, and a finished stage's bar is not
    /// drawn again under its `Stage N complete` line.
    pub fn event(&mut self, view: &RunView, envelope: &Envelope, lines: &[Line]) -> io::Result<()> {
        match &envelope.event {
            Event::StageStarted(stage) => self.start_stage(stage),
            Event::UnitStarted(unit) => self.start_unit(view, envelope, unit),
            Event::UnitFinished(u) => self.end_unit(view, &u.stage, &u.unit),
            Event::UnitSkipped(u) => self.end_unit(view, &u.stage, &u.unit),
            Event::UnitTimedOut(u) => self.end_unit(view, &u.stage, &u.unit),
            Event::StageFinished(stage) => self.end_stage(&stage.name),
            Event::RunFinished(_) => self.clear(),
            _ => {}
        }
        self.catch_up(view);
        self.print(lines)
    }

    /// A front end's own line, above the bars.
    pub fn message(&mut self, level: LogLevel, text: &str) -> io::Result<()> {
        self.print(&[Line::new(level, text)])
    }

    /// Clears the bars and prints the per-stage table and the final report.
    pub fn finish(&mut self, view: &RunView, report: &[Line]) -> io::Result<()> {
        self.clear();
        let table = stage_table(view.stages());
        if !table.is_empty() {
            let table = if self.color {
                table
                    .lines()
                    .enumerate()
                    .map(|(i, l)| {
                        if i == 0 {
                            style(l).bold().force_styling(true).to_string()
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            } else {
                table
            };
            let err = &mut self.err;
            self.multi.suspend(|| err.write_all(table.as_bytes()))?;
        }
        self.print(report)?;
        self.err.flush()
    }

    fn print(&mut self, lines: &[Line]) -> io::Result<()> {
        let mut text = String::new();
        for line in lines {
            if line.shown_as_spinner || (line.level == LogLevel::Debug && !self.verbose) {
                continue;
            }
            text.push_str(&self.decorate(line));
            text.push('\n');
        }
        if text.is_empty() {
            return Ok(());
        }
        let err = &mut self.err;
        self.multi.suspend(|| {
            err.write_all(text.as_bytes())?;
            err.flush()
        })
    }

    /// `✔ unit succeeded in 2.1s` for a unit's mark, `[WARN] text` otherwise.
    fn decorate(&self, line: &Line) -> String {
        let head = match line.mark {
            Some(mark) => {
                let symbol = style(mark.symbol());
                let symbol = match mark {
                    Mark::Success => symbol.green(),
                    Mark::Failed => symbol.red(),
                    Mark::TimedOut | Mark::Warning => symbol.yellow(),
                    Mark::Skipped | Mark::Planned => symbol.cyan(),
                };
                symbol.force_styling(self.color).to_string()
            }
            None => {
                let tag = style(level_tag(line.level));
                let tag = match line.level {
                    LogLevel::Error => tag.red().bold(),
                    LogLevel::Warn => tag.yellow(),
                    LogLevel::Debug => tag.dim(),
                    LogLevel::Info | LogLevel::Unknown => tag.green(),
                };
                tag.force_styling(self.color).to_string()
            }
        };
        let text = printable(&line.text);
        match &self.host_label {
            Some(host) => format!("{head} {host}: {text}"),
            None => format!("{head} {text}"),
        }
    }

    fn start_stage(&mut self, stage: &StageStarted) {
        let len = u64::try_from(stage.units.len()).unwrap_or(u64::MAX);
        let prefix = match &self.host_label {
            Some(host) => format!("{host} · Stage {}", stage.index.saturating_add(1)),
            None => format!("Stage {}", stage.index.saturating_add(1)),
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden())
            .with_style(stage_style())
            .with_prefix(prefix)
            .with_message(printable(&stage.name).into_owned());
        let bar = self.multi.add(bar);
        if let Some(old) = self.stage_bars.insert(stage.name.clone(), bar) {
            self.remove(&old);
        }
    }

    fn start_unit(&mut self, view: &RunView, envelope: &Envelope, unit: &UnitStarted) {
        let started_ms = envelope.elapsed_ms;
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
            .with_style(spinner_style())
            .with_message(printable(&unit.unit).into_owned());
        let bar = self.multi.add(bar);
        let by_events = view.clock_ms().saturating_sub(started_ms);
        set_elapsed_at_least(
            &bar,
            Duration::from_millis(by_events.max(wall_elapsed(envelope.at_ms, unit.timeout_secs))),
        );
        if !self.multi.is_hidden() {
            bar.enable_steady_tick(SPINNER_TICK);
        }
        let spinner = Spinner {
            bar,
            stage: unit.stage.clone(),
            started_ms,
        };
        if let Some(old) = self.spinners.insert(unit.unit.clone(), spinner) {
            self.remove(&old.bar);
        }
    }

    fn end_unit(&mut self, view: &RunView, stage: &str, unit: &str) {
        if let Some(spinner) = self.spinners.remove(unit) {
            self.remove(&spinner.bar);
        }
        if let (Some(bar), Some(stage)) = (self.stage_bars.get(stage), view.stage(stage)) {
            bar.set_position(u64::from(stage.done));
            bar.set_message(stage_message(stage));
        }
    }

    fn end_stage(&mut self, name: &str) {
        if let Some(bar) = self.stage_bars.remove(name) {
            self.remove(&bar);
        }
        let left: Vec<String> = self
            .spinners
            .iter()
            .filter(|(_, s)| s.stage == name)
            .map(|(unit, _)| unit.clone())
            .collect();
        for unit in left {
            if let Some(spinner) = self.spinners.remove(&unit) {
                self.remove(&spinner.bar);
            }
        }
    }

    /// Moves every spinner forward to the run time the latest envelope carries.
    fn catch_up(&self, view: &RunView) {
        for spinner in self.spinners.values() {
            let by_events = view.clock_ms().saturating_sub(spinner.started_ms);
            set_elapsed_at_least(&spinner.bar, Duration::from_millis(by_events));
        }
    }

    fn clear(&mut self) {
        for (_, bar) in self.stage_bars.drain() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        for (_, spinner) in self.spinners.drain() {
            spinner.bar.finish_and_clear();
            self.multi.remove(&spinner.bar);
        }
    }

    fn remove(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.multi.remove(bar);
    }
}

impl Drop for Bars {
    /// Interrupted (Ctrl-C, lost connection): leave no half-drawn bars behind.
    fn drop(&mut self) {
        self.clear();
    }
}

/// How long a unit started at `at_ms` (host clock) has been running by this machine's clock, when
/// that is plausible: not negative, not past the unit's timeout (after which it has no spinner).
/// Catches a unit that started long before an attach, whose last envelope is its start.
fn wall_elapsed(at_ms: u64, timeout_secs: u64) -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match now_ms.checked_sub(at_ms) {
        Some(ms) if ms <= timeout_secs.saturating_mul(1000) => ms,
        _ => 0,
    }
}

fn set_elapsed_at_least(bar: &ProgressBar, elapsed: Duration) {
    // indicatif panics on an elapsed time before the monotonic clock's origin.
    if bar.elapsed() < elapsed && Instant::now().checked_sub(elapsed).is_some() {
        bar.set_elapsed(elapsed);
    }
}

fn stage_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:24.cyan/blue}] {pos}/{len} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▓░")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner:.green} {msg} {elapsed_precise:.dim}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `replication: 2 ok, 1 failed`.
fn stage_message(stage: &StageView) -> String {
    let c = stage.counts;
    let mut parts = vec![format!("{} ok", c.successful)];
    for (n, what) in [
        (c.failed, "failed"),
        (c.timed_out, "timed out"),
        (c.skipped, "skipped"),
        (c.warnings, "warned"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!("{}: {}", printable(&stage.name), parts.join(", "))
}

/// The per-stage table printed before the final report, empty when no stage ran.
fn stage_table(stages: &[StageView]) -> String {
    if stages.is_empty() {
        return String::new();
    }
    let labels: Vec<String> = stages
        .iter()
        .map(|s| format!("{} {}", s.number(), printable(&s.name)))
        .collect();
    let width = labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!(
        "{:<width$}  {:>5}  {:>4}  {:>6}  {:>9}  {:>7}  {:>8}  Time\n",
        "Stage", "Units", "OK", "Failed", "Timed out", "Skipped", "Warnings"
    );
    for (stage, label) in stages.iter().zip(labels) {
        let c = stage.counts;
        let time = stage
            .duration_ms
            .map_or_else(|| "-".to_owned(), format::duration_ms);
        out.push_str(&format!(
            "{label:<width$}  {:>5}  {:>4}  {:>6}  {:>9}  {:>7}  {:>8}  {time}\n",
            stage.units.len(),
            c.successful,
            c.failed,
            c.timed_out,
            c.skipped,
            c.warnings
        ));
    }
    out
}
