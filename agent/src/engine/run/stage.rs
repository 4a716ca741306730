//! One stage of a [`Run`]: its units announced, then turns given while a slot is free, until
//! every unit has ended, been skipped or timed out; then its tally.
//!
//! ```text
//!  open_stage      discovered units (or the literal names, if discovery failed)
//!                  ─▶ (none: a warning) UnitDiscovered × n, StageStarted
//!  loop:           stop_if_asked; cancelled? the queue is skipped
//!                  start_turns: the next units up to the free slots, their states read at once
//!                  wait_for_an_end: a unit, the next stage's discovery, a timed-out unit, a cancel
//!  close_stage     ─▶ StageFinished (counts of this stage's reports)
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use backup_orchestrator_proto::LogLevel;
use backup_orchestrator_proto::event::{Event, StageFinished, StageStarted, UnitRef};
use backup_orchestrator_proto::outcome::Tally;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use super::{Lingering, NextUnits, Run, UnitEnd, millis};
use crate::plan::{Stage, pattern};
use crate::systemd::{Systemd, SystemdError};
use backup_orchestrator_render::error_chain;

/// A unit's future, from its turn to its end or timeout ([`Run::run_unit`]).
type UnitRun<'r> = Pin<Box<dyn Future<Output = UnitEnd> + 'r>>;

impl<'a, S: Systemd> Run<'a, S> {
    /// Runs stage `index` to its end. `next` is the next stage's discovery (completed here if it
    /// can be while this stage runs); `lingering` the timed-out units of every stage so far.
    pub(super) async fn run_stage(
        &self,
        index: usize,
        stage: &Stage,
        discovered: Result<Vec<String>, SystemdError>,
        next: &mut NextUnits<'a>,
        lingering: &mut FuturesUnordered<Lingering>,
        lingering_per_stage: &mut [usize],
    ) {
        let stage_started = Instant::now();
        let units = self.open_stage(index, stage, discovered);
        let limit = match stage.parallel {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let mut queue: VecDeque<String> = units.into();
        let mut active: FuturesUnordered<UnitRun<'_>> = FuturesUnordered::new();
        loop {
            self.stop_if_asked().await;
            if self.cancel.is_cancelled() {
                for unit in queue.drain(..) {
                    self.skip(stage, &unit, "cancelled", "unknown");
                }
            }
            let free = limit.saturating_sub(active.len() + lingering_per_stage[index]);
            self.start_turns(index, stage, &mut queue, free, &mut active);
            if active.is_empty() && queue.is_empty() {
                break;
            }
            self.wait_for_an_end(index, &mut active, next, lingering, lingering_per_stage)
                .await;
        }
        self.close_stage(index, stage, stage_started);
    }

    /// The stage's units, announced: `UnitDiscovered` for each, then `StageStarted`.
    fn open_stage(
        &self,
        index: usize,
        stage: &Stage,
        discovered: Result<Vec<String>, SystemdError>,
    ) -> Vec<String> {
        let units = match discovered {
            Ok(units) => units,
            Err(e) => {
                self.log(
                    LogLevel::Error,
                    format!(
                        "failed to discover the units of stage {}: {}",
                        stage.name,
                        error_chain(&e)
                    ),
                );
                // The literal names still run (and fail visibly if systemd is unreachable).
                pattern::resolve_units(&stage.units, &stage.exclude, [])
            }
        };
        if units.is_empty() {
            // A plan written for other unit names must not pass as a stage with nothing to do.
            self.log(
                LogLevel::Warn,
                format!(
                    "stage {}: no unit on this host matches {}",
                    stage.name,
                    stage.units.join(", ")
                ),
            );
        }
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
        units
    }

    /// Gives the next `free` units of `queue` their turn; their states are read together.
    fn start_turns<'r>(
        &'r self,
        index: usize,
        stage: &'r Stage,
        queue: &mut VecDeque<String>,
        free: usize,
        active: &mut FuturesUnordered<UnitRun<'r>>,
    ) {
        let taken: Vec<String> = queue.drain(..free.min(queue.len())).collect();
        if taken.is_empty() {
            return;
        }
        let states = self.read_states(taken.clone());
        for (position, unit) in taken.into_iter().enumerate() {
            self.starting.set(self.starting.get() + 1);
            active.push(Box::pin(self.run_unit(
                index,
                stage,
                unit,
                states.clone(),
                position,
            )));
        }
    }

    /// Waits for the next thing the stage loop acts on: a unit's end (a timed-out one keeps its
    /// slot, in `lingering`), the next stage's discovery once no start is pending, a timed-out unit
    /// really ending, or a cancel request.
    async fn wait_for_an_end(
        &self,
        index: usize,
        active: &mut FuturesUnordered<UnitRun<'_>>,
        next: &mut NextUnits<'a>,
        lingering: &mut FuturesUnordered<Lingering>,
        lingering_per_stage: &mut [usize],
    ) {
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
                self.lingered(ended).await;
            }
            () = self.cancel.start_no_more.cancelled(),
                if !self.cancel.start_no_more.is_cancelled() => {}
            () = self.cancel.stop_units.cancelled(),
                if !self.cancel.stop_units.is_cancelled() => {}
        }
    }

    /// `StageFinished`, with the counts of this stage's reports.
    fn close_stage(&self, index: usize, stage: &Stage, stage_started: Instant) {
        let tally = Tally::of(
            self.reports
                .borrow()
                .iter()
                .filter(|r| r.stage == stage.name)
                .map(|r| r.outcome),
        );
        let finished = StageFinished::new(
            u32::try_from(index).unwrap_or(u32::MAX),
            stage.name.clone(),
            tally,
            millis(stage_started.elapsed()),
        );
        self.emit(Event::StageFinished(finished));
    }
}
