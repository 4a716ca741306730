//! [`FleetTable`]: the terminal view of a fleet, one row per host, the failed units under their
//! host, and a final table.
//!
//! ```text
//! h1   Stage 2 replication · 3 running   [████████░░░░░░░░░░░░]  6/15  12s
//! h2   Stage 4 done                      [████████████████████] 15/15  20s ⚠ partial
//!        ✘ syncoid-tank-services-prowlarr.service: failed
//! h9   could not run                     [░░░░░░░░░░░░░░░░░░░░]  0/0    0s ✘ could not run
//!        h9: the host key has changed …
//!
//! host  verdict        ok  failed  timed out  skipped  failure rate  duration
//! h1    ok             15       0          0        0            0%     20.1s
//! h2    partial        14       1          0        0            6%     20.3s
//! h9    could not run   -       -          -        -             -         -
//! ```
//!
//! Rows are indicatif bars in one [`MultiProgress`] on stderr (10 Hz redraws); each host keeps
//! the run view every renderer keeps ([`RunView`]), so a replay after a reconnect counts nothing
//! twice. The elapsed time is the row's own clock since the fleet's runs started. Lines of our own
//! (`connection lost, reconnecting…`) print above the rows, labelled with the host.

use std::fmt;
use std::io::{self, Write};

use backup_orchestrator_proto::{Envelope, Event, LogLevel, Outcome, Summary, exit_codes};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error_chain::error_chain;
use crate::format;
use crate::lines::level_tag;
use crate::pipe::PipeState;
use crate::reporter::HostFailure;
use crate::view::RunView;

const REFRESH_HZ: u8 = 10;

struct HostRow {
    host: String,
    view: RunView,
    bar: ProgressBar,
    /// The last line under the row: where the next failed unit goes.
    last: ProgressBar,
    result: Option<Result<Summary, String>>,
}

/// One row per host on a terminal, then the fleet's table ([`Reporter`](crate::Reporter)).
pub struct FleetTable {
    multi: MultiProgress,
    /// Where the rows are drawn from the first call on: nothing is drawn before the runs start
    /// (the confirmation prompt may still be on the terminal when the reporter is made).
    target: Option<ProgressDrawTarget>,
    rows: Vec<HostRow>,
    width: usize,
    err: Box<dyn Write + Send>,
    pipe: PipeState,
}

impl fmt::Debug for FleetTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetTable")
            .field(
                "hosts",
                &self.rows.iter().map(|r| &r.host).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl FleetTable {
    /// Rows for `hosts`, in this order, drawn on stderr.
    pub fn new(hosts: &[String]) -> FleetTable {
        FleetTable::with_target(
            hosts,
            ProgressDrawTarget::stderr_with_hz(REFRESH_HZ),
            Box::new(io::stderr()),
        )
    }

    /// Rows drawn on `target`; lines and the final table written to `err`.
    pub fn with_target(
        hosts: &[String],
        target: ProgressDrawTarget,
        err: Box<dyn Write + Send>,
    ) -> FleetTable {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
        let width = hosts.iter().map(|h| h.chars().count()).max().unwrap_or(4);
        let rows = hosts
            .iter()
            .map(|host| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(row_style(width, ""));
                bar.set_prefix(host.clone());
                bar.set_message("connected");
                bar.enable_steady_tick(std::time::Duration::from_millis(500));
                HostRow {
                    host: host.clone(),
                    view: RunView::default(),
                    last: bar.clone(),
                    bar,
                    result: None,
                }
            })
            .collect();
        FleetTable {
            multi,
            target: Some(target),
            rows,
            width,
            err,
            pipe: PipeState::default(),
        }
    }

    fn row(&mut self, host: &str) -> Option<&mut HostRow> {
        if let Some(target) = self.target.take() {
            self.multi.set_draw_target(target);
        }
        self.rows.iter_mut().find(|r| r.host == host)
    }

    /// A line under `host`'s row (and under the lines already there).
    fn line_under(&mut self, host: &str, text: String) {
        let multi = self.multi.clone();
        if let Some(row) = self.row(host) {
            let line = multi.insert_after(&row.last, ProgressBar::new(0));
            line.set_style(ProgressStyle::with_template("       {msg}").expect("valid template"));
            line.finish_with_message(text);
            row.last = line;
        }
    }

    fn settle(&mut self, host: &str, result: Result<Summary, String>) {
        let width = self.width;
        if let Some(row) = self.row(host) {
            let (mark, word) = verdict(match &result {
                Ok(summary) => summary.exit_code,
                Err(_) => exit_codes::COULD_NOT_RUN,
            });
            let style = match &result {
                Ok(_) => row_style(width, &format!("{mark} {word}")),
                // No bar: nothing ran.
                Err(_) => ProgressStyle::with_template(&format!(
                    "{{prefix:{width}!}}  {{msg:34!}} {mark} {word}"
                ))
                .expect("valid template"),
            };
            row.bar.set_style(style);
            row.bar.finish_with_message(match &result {
                Ok(summary) => format!("done in {}", format::duration_ms(summary.duration_ms)),
                Err(_) => String::new(),
            });
            row.result = Some(result);
        }
    }

    fn table(&self) -> String {
        let w = self.width.max(4);
        let mut text = format!(
            "\n{:<w$}  {:<13}  {:>4}  {:>6}  {:>9}  {:>7}  {:>12}  {:>8}\n",
            "host", "verdict", "ok", "failed", "timed out", "skipped", "failure rate", "duration"
        );
        for row in &self.rows {
            let line = match &row.result {
                Some(Ok(s)) => format!(
                    "{:<w$}  {:<13}  {:>4}  {:>6}  {:>9}  {:>7}  {:>11}%  {:>8}\n",
                    row.host,
                    verdict(s.exit_code).1,
                    s.successful,
                    s.failed,
                    s.timed_out,
                    s.skipped,
                    s.failure_rate_percent,
                    format::duration_ms(s.duration_ms),
                ),
                _ => format!(
                    "{:<w$}  {:<13}  {:>4}  {:>6}  {:>9}  {:>7}  {:>12}  {:>8}\n",
                    row.host,
                    verdict(exit_codes::COULD_NOT_RUN).1,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-"
                ),
            };
            text.push_str(&line);
        }
        text
    }
}

fn row_style(width: usize, verdict: &str) -> ProgressStyle {
    let template = format!(
        "{{prefix:{width}!}}  {{msg:34!}} [{{bar:20}}] {{pos:>3}}/{{len:<3}} {{elapsed:>4}} {verdict}"
    );
    ProgressStyle::with_template(&template)
        .expect("valid template")
        .progress_chars("█▓░")
}

/// `Stage 2 replication · 3 running`, from what the host's run said so far.
fn row_text(view: &RunView) -> String {
    let (_, _, running) = view.unit_counts();
    let stage = view
        .stages()
        .iter()
        .rev()
        .find(|s| s.duration_ms.is_none())
        .or_else(|| view.stages().last());
    match stage {
        Some(stage) if running > 0 => {
            format!(
                "Stage {} {} · {running} running",
                stage.number(),
                stage.name
            )
        }
        Some(stage) => format!("Stage {} {}", stage.number(), stage.name),
        None if view.preflight_seen() => "Stage 0 preflight".to_owned(),
        None => "starting".to_owned(),
    }
}

/// The mark and word of a host's exit code.
fn verdict(code: i32) -> (&'static str, &'static str) {
    match code {
        exit_codes::SUCCESS => ("✔", "ok"),
        exit_codes::PARTIAL_FAILURE => ("⚠", "partial"),
        exit_codes::CRITICAL => ("✘", "critical"),
        _ => ("✘", "could not run"),
    }
}

impl crate::Reporter for FleetTable {
    fn event(&mut self, host: &str, envelope: &Envelope) -> io::Result<()> {
        let mut failed_unit = None;
        if let Some(row) = self.row(host) {
            if !row.view.is_new(envelope) {
                return Ok(());
            }
            row.view.apply(envelope);
            let (known, done, _) = row.view.unit_counts();
            row.bar.set_length(known);
            row.bar.set_position(done);
            row.bar.set_message(row_text(&row.view));
            failed_unit = match &envelope.event {
                Event::UnitFinished(u) if u.outcome == Outcome::Failed => {
                    Some(format!("✘ {}: failed", u.unit))
                }
                Event::UnitTimedOut(u) => Some(format!("⏱ {}: timed out", u.unit)),
                _ => None,
            };
        }
        if let Some(text) = failed_unit {
            self.line_under(host, text);
        }
        Ok(())
    }

    fn message(&mut self, host: &str, level: LogLevel, text: &str) -> io::Result<()> {
        let line = format!("{} {host}: {text}", level_tag(level));
        let (multi, err) = (&self.multi, &mut self.err);
        self.pipe
            .write(|| multi.suspend(|| writeln!(err, "{line}").and_then(|()| err.flush())))
    }

    fn finish(&mut self, host: &str, summary: &Summary) -> io::Result<()> {
        self.settle(host, Ok(summary.clone()));
        Ok(())
    }

    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> io::Result<()> {
        let error = error_chain(failure.error);
        self.line_under(host, error.clone());
        self.settle(host, Err(error));
        Ok(())
    }

    /// Every row is finished: they stay as last drawn, and the table goes below them. The rows
    /// are drawn nowhere from now on, so no late redraw (a tick, the drop) lands after the table.
    fn done(&mut self) -> io::Result<()> {
        self.target = None;
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        let table = self.table();
        let err = &mut self.err;
        self.pipe
            .write(|| err.write_all(table.as_bytes()).and_then(|()| err.flush()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reporter;
    use crate::test_writer::SharedWriter as Shared;

    #[test]
    fn fleet_table_ends_with_a_row_per_host_in_order() {
        let err = Shared::default();
        let hosts = ["forge".to_owned(), "h9".to_owned()];
        let mut table =
            FleetTable::with_target(&hosts, ProgressDrawTarget::hidden(), Box::new(err.clone()));
        let mut summary = None;
        for envelope in crate::demo_events() {
            table.event("forge", &envelope).unwrap();
            if let Event::RunFinished(f) = &envelope.event {
                summary = Some(f.summary.clone());
            }
        }
        let summary = summary.unwrap();
        table.finish("forge", &summary).unwrap();
        let error = io::Error::other("h9: connection refused");
        let failure = HostFailure {
            exit_code: 3,
            error: &error,
        };
        table.failed("h9", &failure).unwrap();
        table.done().unwrap();

        let text = err.text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert!(lines[0].starts_with("host "), "{text}");
        assert!(lines[1].starts_with("forge "), "{text}");
        assert!(
            lines[1].contains(&format!(" {} ", summary.successful)),
            "{text}"
        );
        assert!(
            lines[2].starts_with("h9 ") && lines[2].contains("could not run"),
            "{text}"
        );
    }
}
