//! [`Run`]: one execution of a plan; the state shared by the stage loop and the units' futures.
//!
//! Everything runs in one task, so the shared state is in `Cell`/`RefCell`s that are never
//! borrowed across an `.await`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use backup_orchestrator_proto::LogLevel;
use backup_orchestrator_proto::event::{
    Event, Log, PreflightCheck, RunFinished, RunStarted, StageFinished, StageStarted, UnitFinished,
    UnitRef, UnitSkipped, UnitStarted, UnitTimedOut,
};
use backup_orchestrator_proto::summary::{Outcome, Summary, UnitReport, Verdict};
use futures_util::future::Shared;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Cancel, EngineOptions, RunEventSink};
use crate::identity::SOFTWARE;
use crate::plan::{Plan, Stage, pattern};
use crate::preflight;
use crate::systemd::active_state;
use crate::systemd::{Systemd, SystemdError, UnitFinish, UnitWatch};

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

/// The `ActiveState`s of the units a stage takes in one go: read in one call to systemd, awaited by
/// each of their futures (each takes its own by position).
type StateBatch<'a> =
    Shared<Pin<Box<dyn Future<Output = Rc<Result<Vec<String>, SystemdError>>> + 'a>>>;

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

/// Marks a unit as no longer [`Run::starting`] when dropped.
struct Started<'c> {
    starting: &'c Cell<usize>,
    done: &'c Notify,
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        let left = self.starting.get() - 1;
        self.starting.set(left);
        if left == 0 {
            self.done.notify_one();
        }
    }
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
        self.emit(Event::RunStarted(RunStarted {
            run_id: self.options.run_id.clone(),
            host: self.options.host.clone(),
            started_at: self.options.started_at.clone(),
            agent: SOFTWARE.to_owned(),
            dry_run: self.options.dry_run,
            plan: self.plan.outline(),
        }));

        let mut failures = Vec::new();
        for disk in &self.plan.preflight {
            let check: PreflightCheck = preflight::check(disk).await;
            if !check.passed {
                failures.push(preflight::failure_reason(&check));
            }
            self.emit(Event::PreflightCheck(check));
        }
        if !failures.is_empty() {
            let reason = format!("preflight failed: {}", failures.join("; "));
            return self.finish(Some(reason));
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
            self.lingered(ended);
        }
        self.finish(None)
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

    async fn run_stage(
        &self,
        index: usize,
        stage: &Stage,
        discovered: Result<Vec<String>, SystemdError>,
        next: &mut NextUnits<'a>,
        lingering: &mut FuturesUnordered<Lingering>,
        lingering_per_stage: &mut [usize],
    ) {
        let stage_started = Instant::now();
        let units = match discovered {
            Ok(units) => units,
            Err(e) => {
                self.log(
                    LogLevel::Error,
                    format!(
                        "failed to discover the units of stage {}: {}",
                        stage.name,
                        chain(&e)
                    ),
                );
                // The literal names still run (and fail visibly if systemd is unreachable).
                pattern::resolve_units(&stage.units, &stage.exclude, [])
            }
        };
        for unit in &units {
            self.emit(Event::UnitDiscovered(UnitRef {
                stage: stage.name.clone(),
                unit: unit.clone(),
            }));
        }
        self.emit(Event::StageStarted(StageStarted {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: stage.name.clone(),
            units: units.clone(),
            parallel: stage.parallel,
            timeout_secs: stage.timeout.as_secs(),
        }));

        let limit = match stage.parallel {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let mut queue: VecDeque<String> = units.into();
        let mut active = FuturesUnordered::new();
        loop {
            self.stop_if_asked().await;
            if self.cancel.is_cancelled() {
                for unit in queue.drain(..) {
                    self.skip(stage, &unit, "cancelled", "unknown");
                }
            }
            // The units whose turn it is now; their states are read together.
            let mut taken = Vec::new();
            while active.len() + taken.len() + lingering_per_stage[index] < limit {
                let Some(unit) = queue.pop_front() else {
                    break;
                };
                taken.push(unit);
            }
            if !taken.is_empty() {
                let states = self.read_states(taken.clone());
                for (position, unit) in taken.into_iter().enumerate() {
                    self.starting.set(self.starting.get() + 1);
                    active.push(self.run_unit(index, stage, unit, states.clone(), position));
                }
            }
            if active.is_empty() && queue.is_empty() {
                break;
            }
            tokio::select! {
                // Units first: their D-Bus calls go out before the next stage's discovery, which
                // systemd would otherwise answer first.
                biased;
                Some(end) = active.next(), if !active.is_empty() => {
                    if let UnitEnd::TimedOut(still_running) = end {
                        lingering_per_stage[index] += 1;
                        lingering.push(still_running);
                    }
                }
                result = async {
                    match next {
                        NextUnits::Pending(discovery) => discovery.await,
                        _ => std::future::pending().await,
                    }
                }, if matches!(next, NextUnits::Pending(_)) && self.starting.get() == 0 => {
                    *next = NextUnits::Done(result);
                }
                // Only to look at `starting` again, for the discovery above.
                () = self.starts_done.notified(), if self.starting.get() > 0 => {}
                Some(ended) = lingering.next(), if !lingering.is_empty() => {
                    lingering_per_stage[ended.stage_index] -= 1;
                    self.lingered(ended);
                }
                () = self.cancel.start_no_more.cancelled(),
                    if !self.cancel.start_no_more.is_cancelled() => {}
                () = self.cancel.stop_units.cancelled(),
                    if !self.cancel.stop_units.is_cancelled() => {}
            }
        }

        let mut finished = StageFinished {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: stage.name.clone(),
            successful: 0,
            failed: 0,
            timed_out: 0,
            skipped: 0,
            warnings: 0,
            duration_ms: millis(stage_started.elapsed()),
        };
        for report in self
            .reports
            .borrow()
            .iter()
            .filter(|r| r.stage == stage.name)
        {
            match report.outcome {
                Outcome::Success => finished.successful += 1,
                Outcome::Failed => finished.failed += 1,
                Outcome::TimedOut => finished.timed_out += 1,
                Outcome::Skipped => finished.skipped += 1,
                Outcome::Warning => finished.warnings += 1,
                Outcome::Planned | Outcome::Unknown => {}
            }
        }
        self.emit(Event::StageFinished(finished));
    }

    /// Reads the `ActiveState`s of `units` in one call, for their [`Run::run_unit`]s.
    fn read_states(&self, units: Vec<String>) -> StateBatch<'a> {
        let systemd = self.systemd;
        let read: Pin<Box<dyn Future<Output = _> + 'a>> =
            Box::pin(async move { Rc::new(systemd.active_states(&units).await) });
        read.shared()
    }

    /// One unit from its turn to its end or its timeout. `states` holds its `ActiveState` at
    /// `position`.
    async fn run_unit(
        &self,
        stage_index: usize,
        stage: &Stage,
        unit: String,
        states: StateBatch<'a>,
        position: usize,
    ) -> UnitEnd {
        let starting = Started {
            starting: &self.starting,
            done: &self.starts_done,
        };
        let active_state = match states.await.as_ref() {
            Ok(states) => states
                .get(position)
                .cloned()
                .unwrap_or_else(|| "unknown".to_owned()),
            Err(e) => {
                let mut message = format!("failed to read the state of {unit}");
                if let Some(source) = e.source() {
                    message.push_str(": ");
                    message.push_str(&chain(source));
                }
                self.log(LogLevel::Warn, message);
                let report = self.report(stage, &unit);
                self.settle_error(report, stage, &unit, e, Duration::ZERO);
                return UnitEnd::Settled;
            }
        };
        if active_state::is_running(&active_state) {
            let reason = format!("already {active_state}");
            self.skip(stage, &unit, &reason, &active_state);
            return UnitEnd::Settled;
        }
        if self.cancel.is_cancelled() {
            self.skip(stage, &unit, "cancelled", &active_state);
            return UnitEnd::Settled;
        }
        let report = self.report(stage, &unit);
        if self.options.dry_run {
            self.update(report, |r| r.outcome = Outcome::Planned);
            self.emit(Event::UnitFinished(UnitFinished {
                stage: stage.name.clone(),
                unit,
                outcome: Outcome::Planned,
                result: String::new(),
                active_state,
                exit_status: None,
                duration_ms: 0,
            }));
            return UnitEnd::Settled;
        }

        self.emit(Event::UnitStarted(UnitStarted {
            stage: stage.name.clone(),
            unit: unit.clone(),
            invocation_id: None,
            timeout_secs: stage.timeout.as_secs(),
        }));
        let started = Instant::now();
        let watch = match self.systemd.start_and_watch(&unit).await {
            Ok(watch) => watch,
            Err(e) => {
                self.log(LogLevel::Warn, format!("failed to {}", chain(&e)));
                self.settle_error(report, stage, &unit, &e, started.elapsed());
                return UnitEnd::Settled;
            }
        };
        drop(starting);
        self.running.borrow_mut().push(unit.clone());
        if self.stopping.get() {
            // Cancelled with stop while this start was on its way.
            self.stop(&unit).await;
        }

        let mut finished = Box::pin(watch.finished());
        match tokio::time::timeout(stage.timeout, &mut finished).await {
            Ok(finish) => {
                self.ended(&unit);
                match finish {
                    Ok(finish) => self.settle(report, stage, &unit, finish, started.elapsed()),
                    Err(e) => {
                        self.log(LogLevel::Warn, format!("failed to {}", chain(&e)));
                        self.settle_error(report, stage, &unit, &e, started.elapsed());
                    }
                }
                UnitEnd::Settled
            }
            Err(_elapsed) => {
                let stop_requested = if self.stopping.get() {
                    true // already asked to stop with every running unit
                } else if self.options.stop_units_on_timeout {
                    self.stop(&unit).await
                } else {
                    false
                };
                self.update(report, |r| {
                    r.outcome = Outcome::TimedOut;
                    r.duration_ms = Some(millis(stage.timeout));
                    r.still_running = true;
                });
                self.emit(Event::UnitTimedOut(UnitTimedOut {
                    stage: stage.name.clone(),
                    unit: unit.clone(),
                    timeout_secs: stage.timeout.as_secs(),
                    still_running: true,
                    stop_requested,
                }));
                let stage = stage.name.clone();
                UnitEnd::TimedOut(Box::pin(async move {
                    Lingered {
                        stage_index,
                        stage,
                        unit,
                        report,
                        started,
                        finish: finished.await,
                    }
                }))
            }
        }
    }

    /// A timed-out unit has really ended: it is no longer running, and its end is reported
    /// (outcome stays `timed_out`).
    fn lingered(&self, ended: Lingered) {
        self.ended(&ended.unit);
        match ended.finish {
            Ok(finish) => {
                self.update(ended.report, |r| {
                    r.still_running = false;
                    r.result = Some(finish.result.clone());
                    r.exit_status = finish.exit_status;
                });
                self.emit(Event::UnitFinished(UnitFinished {
                    stage: ended.stage,
                    unit: ended.unit,
                    outcome: Outcome::TimedOut,
                    result: finish.result,
                    active_state: finish.active_state,
                    exit_status: finish.exit_status,
                    duration_ms: millis(ended.started.elapsed()),
                }));
            }
            Err(e) => self.log(LogLevel::Warn, format!("failed to {}", chain(&e))),
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
                self.log(LogLevel::Warn, format!("failed to {}", chain(&e)));
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

    fn settle(&self, report: usize, stage: &Stage, unit: &str, finish: UnitFinish, took: Duration) {
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
        });
        self.emit(Event::UnitFinished(UnitFinished {
            stage: stage.name.clone(),
            unit: unit.to_owned(),
            outcome,
            result: finish.result,
            active_state: finish.active_state,
            exit_status: finish.exit_status,
            duration_ms: millis(took),
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `start foo.service: org.freedesktop.systemd1.NoSuchUnit: Unit foo.service not found.`
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
