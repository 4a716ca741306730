//! The run engine: [`execute`] runs a [`Plan`] against a [`Systemd`] and reports every step as a
//! typed [`Event`] to a [`RunEventSink`]. It never prints; renderers and the event log consume the
//! events.
//!
//! # Run loop
//!
//! ```text
//!  RunStarted
//!  PreflightCheck × disks ──any failed──▶ RunFinished(exit 2, critical_reason)   (nothing started)
//!  for each stage, in order:
//!    its units (unit files ∪ loaded units, − excludes; looked up while the previous stage
//!    runs, once that stage's starts are answered, and their states read and kept current from
//!    then on: Systemd::anticipate) ─▶ UnitDiscovered × n, StageStarted
//!    ┌─ while a slot is free (running + timed-out-still-running < parallel; 0 = no limit):
//!    │    take the next unit(s) (the ActiveStates of all units taken at once: one read)
//!    │    each ─▶ ActiveState running? ─▶ UnitSkipped
//!    │                         dry run?              ─▶ UnitFinished(planned)
//!    │                         UnitStarted, StartUnit, watch ─┬─▶ UnitFinished(success|failed|warning)
//!    │                                                        └─ stage timeout ─▶ UnitTimedOut
//!    │                                   (optionally StopUnit; the unit keeps its slot until it
//!    │                                    really ends, then UnitFinished(timed_out))
//!    └─ until every unit has finished, been skipped or timed out ─▶ StageFinished
//!  RunFinished(summary)      (timed-out units not ended yet: still_running = true)
//! ```
//!
//! All units of a run are driven by one task: a `FuturesUnordered` per stage holds the running
//! units' futures, another the timed-out units still being followed; a `select!` waits for
//! whichever ends first or for a cancellation. No threads, no spawned tasks, so events are
//! emitted the moment systemd reports an end. A stage's failures never stop later stages; only
//! preflight aborts a run.
//!
//! # Cancellation
//!
//! [`Cancel`] holds two tokens. `start_no_more`: units not started yet are reported skipped
//! (reason `cancelled`), in this stage and the later ones; running units go on and are waited
//! for. `stop_units`: the same, and a stop job is queued for every unit this run started that is
//! still running. `finish_now` (SIGTERM): whatever the run is waiting for (a unit, systemd, a
//! discovery) is abandoned and the summary is made at once, with the units that run left running
//! and marked `still_running`; units not reached are not in it. Any of them makes
//! `Summary::cancelled` true.

mod inputs;
mod run;

use backup_orchestrator_proto::event::RunStarted;
use backup_orchestrator_proto::summary::Summary;

use crate::plan::Plan;
use crate::systemd::Systemd;

pub use inputs::{Cancel, EngineOptions, RunEventSink};

/// Runs `plan`. The first event emitted is `RunStarted`, the last `RunFinished`, whose summary is
/// also returned. Errors from systemd become unit outcomes (or a `Log` event for a discovery
/// failure); the run itself always ends with a summary.
///
/// The future is not `Send`: drive it on the agent's current-thread runtime.
pub async fn execute<S: Systemd>(
    plan: &Plan,
    systemd: &S,
    options: &EngineOptions,
    sink: &mut dyn RunEventSink,
    cancel: Cancel,
) -> Summary {
    run::Run::new(plan, systemd, options, sink, cancel)
        .execute()
        .await
}

/// The `RunStarted` event [`execute`] begins with, for those who need it beforehand (a start
/// hook's stdin).
pub fn run_started(plan: &Plan, options: &EngineOptions) -> RunStarted {
    run::run_started(plan, options)
}

#[cfg(test)]
mod tests;
