//! One unit's turn in a [`Run`], from its state check to its end or its timeout.
//!
//! ```text
//!  state_at_turn   its ActiveState, from the batch read with the units taken with it
//!  skip_reason     already running (active_state::is_running) or cancelled ─▶ UnitSkipped
//!  dry run         ─▶ UnitFinished(planned)
//!  start           UnitStarted, StartUnit + watch (the start counts as pending until answered;
//!                  no answer within the stage timeout ─▶ UnitTimedOut, not followed)
//!  follow_to_end   the watch, within what is left of the stage timeout ─▶ UnitFinished (a
//!                  failure with its invocation's last journal lines)
//!                  or timed_out ─▶ UnitTimedOut (optionally StopUnit); followed on as Lingering
//! ```

use std::cell::Cell;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use backup_orchestrator_proto::LogLevel;
use backup_orchestrator_proto::event::{Event, UnitFinished, UnitStarted, UnitTimedOut};
use backup_orchestrator_proto::summary::Outcome;
use futures_util::FutureExt;
use futures_util::future::Shared;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Lingered, Run, UnitEnd, millis};
use crate::plan::Stage;
use crate::systemd::{Systemd, SystemdError, UnitFinish, UnitWatch, active_state};
use backup_orchestrator_render::error_chain;

/// The `ActiveState`s of the units a stage takes in one go: read in one call to systemd, awaited by
/// each of their futures (each takes its own by position).
pub(super) type StateBatch<'a> =
    Shared<Pin<Box<dyn Future<Output = Rc<Result<Vec<String>, SystemdError>>> + 'a>>>;

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
    /// Reads the `ActiveState`s of `units` in one call, for their [`Run::run_unit`]s.
    pub(super) fn read_states(&self, units: Vec<String>) -> StateBatch<'a> {
        let systemd = self.systemd;
        let read: Pin<Box<dyn Future<Output = _> + 'a>> =
            Box::pin(async move { Rc::new(systemd.active_states(&units).await) });
        read.shared()
    }

    /// One unit from its turn to its end or its timeout. `states` holds its `ActiveState` at
    /// `position`.
    pub(super) async fn run_unit(
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
        let Some(active_state) = self.state_at_turn(stage, &unit, states, position).await else {
            return UnitEnd::Settled;
        };
        if let Some(reason) = self.skip_reason(&active_state) {
            self.skip(stage, &unit, &reason, &active_state);
            return UnitEnd::Settled;
        }
        let report = self.report(stage, &unit);
        if self.options.dry_run {
            self.planned(report, stage, unit, active_state);
            return UnitEnd::Settled;
        }
        let Some((watch, started)) = self.start(report, stage, &unit).await else {
            return UnitEnd::Settled;
        };
        drop(starting);
        self.running.borrow_mut().push(unit.clone());
        if self.stopping.get() {
            // Cancelled with stop while this start was on its way.
            self.stop(&unit).await;
        }
        self.follow_to_end(stage_index, stage, unit, report, watch, started)
            .await
    }

    /// The unit's `ActiveState` from its batch; `None` when the read failed (the unit is then
    /// reported failed with the error).
    async fn state_at_turn(
        &self,
        stage: &Stage,
        unit: &str,
        states: StateBatch<'a>,
        position: usize,
    ) -> Option<String> {
        match states.await.as_ref() {
            Ok(states) => Some(
                states
                    .get(position)
                    .cloned()
                    .unwrap_or_else(|| "unknown".to_owned()),
            ),
            Err(e) => {
                let mut message = format!("failed to read the state of {unit}");
                if let Some(source) = e.source() {
                    message.push_str(": ");
                    message.push_str(&error_chain(source));
                }
                self.log(LogLevel::Warn, message);
                let report = self.report(stage, unit);
                self.settle_error(report, stage, unit, e, Duration::ZERO);
                None
            }
        }
    }

    /// Why the unit is not started: it already runs (a start would join it), or the run is
    /// cancelled.
    fn skip_reason(&self, active_state: &str) -> Option<String> {
        if active_state::is_running(active_state) {
            Some(format!("already {active_state}"))
        } else if self.cancel.is_cancelled() {
            Some("cancelled".to_owned())
        } else {
            None
        }
    }

    /// A dry run's unit: what would start.
    fn planned(&self, report: usize, stage: &Stage, unit: String, active_state: String) {
        self.update(report, |r| r.outcome = Outcome::Planned);
        self.emit(Event::UnitFinished(UnitFinished {
            stage: stage.name.clone(),
            unit,
            outcome: Outcome::Planned,
            result: String::new(),
            active_state,
            exit_status: None,
            duration_ms: 0,
            journal: Vec::new(),
        }));
    }

    /// `UnitStarted`, then the start job and its watch; `None` when systemd refused the start (the
    /// unit is then reported failed).
    async fn start(&self, report: usize, stage: &Stage, unit: &str) -> Option<(S::Watch, Instant)> {
        self.emit(Event::UnitStarted(UnitStarted {
            stage: stage.name.clone(),
            unit: unit.to_owned(),
            invocation_id: None,
            timeout_secs: stage.timeout.as_secs(),
        }));
        let started = Instant::now();
        // The stage's timeout runs from here: a systemd too busy to answer StartUnit in that
        // time times the unit out like a unit that runs too long.
        match tokio::time::timeout(stage.timeout, self.systemd.start_and_watch(unit)).await {
            Ok(Ok(watch)) => Some((watch, started)),
            Ok(Err(e)) => {
                self.log(LogLevel::Warn, format!("failed to {}", error_chain(&e)));
                self.settle_error(report, stage, unit, &e, started.elapsed());
                None
            }
            Err(_elapsed) => {
                self.log(
                    LogLevel::Warn,
                    format!(
                        "systemd did not answer the start of {unit} within the stage's timeout \
                         ({}s); it is not followed further",
                        stage.timeout.as_secs()
                    ),
                );
                self.update(report, |r| {
                    r.outcome = Outcome::TimedOut;
                    r.duration_ms = Some(millis(stage.timeout));
                });
                self.emit(Event::UnitTimedOut(UnitTimedOut {
                    stage: stage.name.clone(),
                    unit: unit.to_owned(),
                    timeout_secs: stage.timeout.as_secs(),
                    still_running: false,
                    stop_requested: false,
                }));
                None
            }
        }
    }

    /// Waits for the started unit's end within the stage's timeout.
    async fn follow_to_end(
        &self,
        stage_index: usize,
        stage: &Stage,
        unit: String,
        report: usize,
        watch: S::Watch,
        started: Instant,
    ) -> UnitEnd {
        let mut finished = Box::pin(watch.finished());
        match tokio::time::timeout_at(started + stage.timeout, &mut finished).await {
            Ok(finish) => {
                self.ended(&unit);
                match finish {
                    Ok(finish) => {
                        let took = started.elapsed();
                        let journal = self.why_it_failed(&finish).await;
                        self.settle(report, stage, &unit, finish, journal, took);
                    }
                    Err(e) => {
                        self.log(LogLevel::Warn, format!("failed to {}", error_chain(&e)));
                        self.settle_error(report, stage, &unit, &e, started.elapsed());
                    }
                }
                UnitEnd::Settled
            }
            Err(_elapsed) => {
                self.timed_out(stage, &unit, report).await;
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

    /// A failed unit's last journal lines (of that invocation); nothing for a success.
    async fn why_it_failed(&self, finish: &UnitFinish) -> Vec<String> {
        match &finish.invocation_id {
            Some(id) if !finish.succeeded() => self.systemd.failure_journal(id).await,
            _ => Vec::new(),
        }
    }

    /// The unit outlived its stage's timeout: stopped if asked to, reported `timed_out`, still
    /// running.
    async fn timed_out(&self, stage: &Stage, unit: &str, report: usize) {
        let stop_requested = if self.stopping.get() {
            true // already asked to stop with every running unit
        } else if self.options.stop_units_on_timeout {
            self.stop(unit).await
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
            unit: unit.to_owned(),
            timeout_secs: stage.timeout.as_secs(),
            still_running: true,
            stop_requested,
        }));
    }
}
