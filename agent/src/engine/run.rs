//! [`Run`]: one execution of a plan; the state shared by the stage loop and the units' futures.
//!
//! Everything runs in one task, so the shared state is in `Cell`/`RefCell`s that are never
//! borrowed across an `.await`. This file has the run from start to summary and the bookkeeping
//! every step shares (reports, events); a stage's loop is in `run/stage.rs`, one unit's turn in
//! `run/unit.rs`.

mod stage;
mod unit;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use backup_orchestrator_proto::LogLevel;
use backup_orchestrator_proto::event::{
    Event, Log, PreflightCheck, RunFinished, RunStarted, UnitFinished, UnitSkipped,
};
use backup_orchestrator_proto::summary::{Outcome, Summary, UnitReport, Verdict};
use backup_orchestrator_render::preflight_failure;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::inputs::{Cancel, EngineOptions, RunEventSink};
use crate::identity::SOFTWARE;
use crate::plan::{Plan, Stage};
use crate::preflight;
use crate::systemd::{Systemd, SystemdError, UnitFinish};
use backup_orchestrator_render::error_chain;

/// A stage's discovery, started while the previous stage runs.
type Discovery<'a> = Pin<Box<dyn Future<Output = Result<Vec<String>, SystemdError>> + 'a>>;

/// The next stage's discovery: on its way, or done.
enum NextUnits<'a> {
    None,
    Pending(Discovery<'a>),
    Done(Result<Vec<String>, SystemdError>),
}

impl NextUnits<'_> {
    async fn get(self) -> Option<Result<Vec<String>, SystemdError>> {
        match self {
            NextUnits::None => None,
            NextUnits::Pending(discovery) => Some(discovery.await),
            NextUnits::Done(result) => Some(result),
        }
    }
}

/// A timed-out unit still being followed: resolves when it really ends.
type Lingering = Pin<Box<dyn Future<Output = Lingered>>>;

/// A timed-out unit that has ended.
struct Lingered {
    stage_index: usize,
    stage: String,
    unit: String,
    report: usize,
    started: Instant,
    finish: Result<UnitFinish, SystemdError>,
}

/// How a unit's future ends, as far as its stage is concerned.
enum UnitEnd {
    /// Finished, skipped or failed to start: its slot is free.
    Settled,
    /// Timed out and still running: it keeps its slot until this resolves.
    TimedOut(Lingering),
}

pub(super) struct Run<'a, S> {
    plan: &'a Plan,
    systemd: &'a S,
    options: &'a EngineOptions,
    sink: RefCell<&'a mut dyn RunEventSink>,
    cancel: Cancel,
    started: Instant,
    /// One per unit reached, in start order.
    reports: RefCell<Vec<UnitReport>>,
    /// Units this run started that have not ended yet.
    running: RefCell<Vec<String>>,
    /// Stop jobs were queued for the running units (`Cancel::stop_units`).
    stopping: Cell<bool>,
    /// Units between their turn and systemd's answer to their start: the next stage's
    /// discovery waits for none to be, so systemd serves the starts first.
    starting: Cell<usize>,
    /// Notified when `starting` drops to 0.
    starts_done: Notify,
}

impl<'a, S: Systemd> Run<'a, S> {
    pub(super) fn new(
        plan: &'a Plan,
        systemd: &'a S,
        options: &'a EngineOptions,
        sink: &'a mut dyn RunEventSink,
        cancel: Cancel,
    ) -> Self {
        Run {
            plan,
            systemd,
            options,
            sink: RefCell::new(sink),
            cancel,
            started: Instant::now(),
            reports: RefCell::new(Vec::new()),
            running: RefCell::new(Vec::new()),
            stopping: Cell::new(false),
            starting: Cell::new(0),
            starts_done: Notify::new(),
        }
    }

    pub(super) async fn execute(self) -> Summary {
        self.emit(Event::RunStarted(run_started(self.plan, self.options)));

        // Everything the run waits for is in `stages`: dropping it abandons all of it at once.
        let critical_reason = tokio::select! {
            biased;
            () = self.cancel.finish_now.cancelled() => {
                self.finish_now();
                None
            }
            reason = self.preflight_and_stages() => reason,
        };
        self.finish(critical_reason)
    }

    /// Preflight, then the stages; the critical reason if preflight failed.
    async fn preflight_and_stages(&self) -> Option<String> {
        let mut failures = Vec::new();
        for disk in &self.plan.preflight {
            let check: PreflightCheck = preflight::check(disk).await;
            if !check.passed {
                failures.push(preflight_failure(&check));
            }
            self.emit(Event::PreflightCheck(check));
        }
        if !failures.is_empty() {
            return Some(format!("preflight failed: {}", failures.join("; ")));
        }

        let mut lingering: FuturesUnordered<Lingering> = FuturesUnordered::new();
        let mut lingering_per_stage = vec![0_usize; self.plan.stages.len()];
        let stages = &self.plan.stages;
        let mut next = self.discovery(stages.first());
        for (index, stage) in stages.iter().enumerate() {
            let Some(discovered) = std::mem::replace(&mut next, NextUnits::None).get().await else {
                break;
            };
            // The next stage's units are looked up while this one runs, so that it can start as
            // soon as this one ends.
            next = self.discovery(stages.get(index + 1));
            self.run_stage(
                index,
                stage,
                discovered,
                &mut next,
                &mut lingering,
                &mut lingering_per_stage,
            )
            .await;
        }
        self.stop_if_asked().await;
        // Timed-out units that ended meanwhile; the others stay `still_running`.
        while let Some(Some(ended)) = lingering.next().now_or_never() {
            self.lingered(ended).await;
        }
        None
    }

    /// `Cancel::finish_now`: the units this run started and saw no end of are left running.
    fn finish_now(&self) {
        let running = self.running.borrow().clone();
        self.log(
            LogLevel::Warn,
            format!(
                "cancelled: finishing now, {} unit(s) left running{}{}",
                running.len(),
                if running.is_empty() { "" } else { ": " },
                running.join(", ")
            ),
        );
        for report in self.reports.borrow_mut().iter_mut() {
            if report.outcome == Outcome::Unknown && running.contains(&report.unit) {
                report.still_running = true;
            }
        }
    }

    fn discovery(&self, stage: Option<&'a Stage>) -> NextUnits<'a> {
        let systemd = self.systemd;
        match stage {
            Some(stage) => NextUnits::Pending(Box::pin(async move {
                let units = systemd.discover(&stage.units, &stage.exclude).await?;
                // Their states are read now and kept current (Systemd::anticipate), so that the
                // check at each unit's turn waits for nothing. A failure here is met again there.
                let _ = systemd.anticipate(&units).await;
                Ok(units)
            })),
            None => NextUnits::None,
        }
    }

    /// A timed-out unit has really ended: it is no longer running, and its end is reported
    /// (outcome stays `timed_out`), with its invocation's last journal lines.
    async fn lingered(&self, ended: Lingered) {
        let took = millis(ended.started.elapsed());
        self.ended(&ended.unit);
        match ended.finish {
            Ok(finish) => {
                let journal = match &finish.invocation_id {
                    Some(id) => self.systemd.failure_journal(id).await,
                    None => Vec::new(),
                };
                self.update(ended.report, |r| {
                    r.still_running = false;
                    r.result = Some(finish.result.clone());
                    r.exit_status = finish.exit_status;
                    r.journal.clone_from(&journal);
                });
                self.emit(Event::UnitFinished(UnitFinished {
                    stage: ended.stage,
                    unit: ended.unit,
                    outcome: Outcome::TimedOut,
                    result: finish.result,
                    active_state: finish.active_state,
                    exit_status: finish.exit_status,
                    duration_ms: took,
                    journal,
                }));
            }
            Err(e) => self.log(LogLevel::Warn, format!("failed to {}", error_chain(&e))),
        }
    }

    /// Queues stop jobs for every running unit, once, if `Cancel::stop_units` was cancelled.
    async fn stop_if_asked(&self) {
        if !self.cancel.is_stopping_units() || self.stopping.replace(true) {
            return;
        }
        let units = self.running.borrow().clone();
        if units.is_empty() {
            return;
        }
        self.log(
            LogLevel::Warn,
            format!(
                "cancelled: stopping {} running unit(s): {}",
                units.len(),
                units.join(", ")
            ),
        );
        futures_util::future::join_all(units.iter().map(|unit| self.stop(unit))).await;
    }

    /// Queues a stop job; reports a failure as a `Log` event. Returns whether it was queued.
    async fn stop(&self, unit: &str) -> bool {
        match self.systemd.stop(unit).await {
            Ok(()) => true,
            Err(e) => {
                self.log(LogLevel::Warn, format!("failed to {}", error_chain(&e)));
                false
            }
        }
    }

    fn ended(&self, unit: &str) {
        self.running.borrow_mut().retain(|u| u != unit);
    }

    fn failure_outcome(stage: &Stage) -> Outcome {
        if stage.warn_only {
            Outcome::Warning
        } else {
            Outcome::Failed
        }
    }

    /// The unit ended by itself: its outcome, and for a failure `journal`, its last lines.
    fn settle(
        &self,
        report: usize,
        stage: &Stage,
        unit: &str,
        finish: UnitFinish,
        journal: Vec<String>,
        took: Duration,
    ) {
        let outcome = if finish.succeeded() {
            Outcome::Success
        } else {
            Self::failure_outcome(stage)
        };
        self.update(report, |r| {
            r.outcome = outcome;
            r.result = Some(finish.result.clone());
            r.exit_status = finish.exit_status;
            r.duration_ms = Some(millis(took));
            r.journal.clone_from(&journal);
        });
        self.emit(Event::UnitFinished(UnitFinished {
            stage: stage.name.clone(),
            unit: unit.to_owned(),
            outcome,
            result: finish.result,
            active_state: finish.active_state,
            exit_status: finish.exit_status,
            duration_ms: millis(took),
            journal,
        }));
    }

    /// The unit failed on a D-Bus error (not found, masked, bus gone): its result is the error's
    /// name.
    fn settle_error(
        &self,
        report: usize,
        stage: &Stage,
        unit: &str,
        error: &SystemdError,
        took: Duration,
    ) {
        let result = error
            .dbus_error_name()
            .unwrap_or_else(|| "dbus-error".to_owned());
        let outcome = Self::failure_outcome(stage);
        self.update(report, |r| {
            r.outcome = outcome;
            r.result = Some(result.clone());
            r.duration_ms = Some(millis(took));
        });
        self.emit(Event::UnitFinished(UnitFinished {
            stage: stage.name.clone(),
            unit: unit.to_owned(),
            outcome,
            result,
            active_state: "unknown".to_owned(),
            exit_status: None,
            duration_ms: millis(took),
            journal: Vec::new(),
        }));
    }

    fn skip(&self, stage: &Stage, unit: &str, reason: &str, active_state: &str) {
        let report = self.report(stage, unit);
        self.update(report, |r| r.outcome = Outcome::Skipped);
        self.emit(Event::UnitSkipped(UnitSkipped {
            stage: stage.name.clone(),
            unit: unit.to_owned(),
            reason: reason.to_owned(),
            active_state: active_state.to_owned(),
        }));
    }

    /// Adds the unit's line to the summary (its place is its start order); returns its index.
    fn report(&self, stage: &Stage, unit: &str) -> usize {
        let mut reports = self.reports.borrow_mut();
        reports.push(UnitReport {
            unit: unit.to_owned(),
            stage: stage.name.clone(),
            outcome: Outcome::Unknown,
            result: None,
            exit_status: None,
            duration_ms: None,
            still_running: false,
            journal: Vec::new(),
        });
        reports.len() - 1
    }

    fn update(&self, report: usize, change: impl FnOnce(&mut UnitReport)) {
        if let Some(r) = self.reports.borrow_mut().get_mut(report) {
            change(r);
        }
    }

    fn finish(self, critical_reason: Option<String>) -> Summary {
        let units = self.reports.take();
        let verdict = Verdict::compute(
            units.iter().map(|u| u.outcome),
            self.plan.failure_threshold_percent,
            critical_reason.is_some(),
        );
        let summary = Summary {
            total_services: verdict.total_services,
            successful: verdict.successful,
            failed: verdict.failed,
            timed_out: verdict.timed_out,
            skipped: verdict.skipped,
            failure_rate_percent: verdict.failure_rate_percent,
            exit_code: verdict.exit_code,
            warnings: verdict.warnings,
            run_id: self.options.run_id.clone(),
            host: self.options.host.clone(),
            started_at: self.options.started_at.clone(),
            duration_ms: millis(self.started.elapsed()),
            dry_run: self.options.dry_run,
            cancelled: self.cancel.is_cancelled(),
            critical_reason,
            units,
        };
        self.emit(Event::RunFinished(RunFinished {
            summary: summary.clone(),
        }));
        summary
    }

    fn emit(&self, event: Event) {
        self.sink.borrow_mut().emit(event);
    }

    fn log(&self, level: LogLevel, message: String) {
        self.emit(Event::Log(Log { level, message }));
    }
}

/// The run's first event, as [`super::execute`] emits it (and a start hook is given).
pub(super) fn run_started(plan: &Plan, options: &EngineOptions) -> RunStarted {
    RunStarted {
        run_id: options.run_id.clone(),
        host: options.host.clone(),
        started_at: options.started_at.clone(),
        agent: SOFTWARE.to_owned(),
        dry_run: options.dry_run,
        plan: plan.outline(),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
