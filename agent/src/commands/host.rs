//! [`Host`]: the run operations the CLI and `serve` share: start a run as the transient unit,
//! find the run to follow, report status, cancel.

use std::collections::{BTreeMap, BTreeSet};

use backup_orchestrator_proto::{Envelope, Event, RunState, StatusReport};
use tokio::signal::unix::SignalKind;

use crate::ownership::{ActiveRun, OwnedRunArgs, OwnershipError, RunUnit};
use crate::plan::Plan;
use crate::runlog::{self, LogFollowError, FollowTimings, Follower, Layout, RunLogError};

use super::plan_file;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error(transparent)]
    Log(#[from] RunLogError),
}

/// This host's runs: their logs on disk and their unit in systemd.
#[derive(Clone, Debug)]
pub struct Host {
    pub layout: Layout,
    pub unit: RunUnit,
}

impl Host {
    pub async fn connect() -> Result<Host, OwnershipError> {
        Ok(Host {
            layout: Layout::system(),
            unit: RunUnit::connect().await?,
        })
    }

    /// Starts a run of `plan` (already checked) owned by PID 1 and returns its id. The run's log
    /// exists when this returns, so a follower can open it at once.
    pub async fn start(
        &self,
        plan: &Plan,
        stop_units_on_timeout: bool,
    ) -> Result<String, StartError> {
        let run_id = runlog::new_run_id(std::time::SystemTime::now());
        self.layout.prepare(&run_id)?;
        let args = OwnedRunArgs {
            plan: plan_file(plan),
            stop_units_on_timeout,
        };
        match self.unit.start(&run_id, &args).await {
            Ok(()) => Ok(run_id),
            Err(e) => {
                self.layout.discard(&run_id);
                Err(e.into())
            }
        }
    }

    /// Follows `run_id`'s log from its start.
    pub fn follow(&self, run_id: &str) -> Result<Follower<RunUnit>, LogFollowError> {
        Follower::open(
            &self.layout.events_path(run_id),
            run_id,
            self.unit.clone(),
            FollowTimings::default(),
        )
    }

    /// The run `attach` means: the one asked for, else the running one, else the last one.
    pub async fn resolve(&self, requested: Option<&str>) -> Result<Option<String>, OwnershipError> {
        if let Some(id) = requested {
            return Ok(self.layout.has_run(id).then(|| id.to_owned()));
        }
        if let Some(id) = self.unit.running_id().await?
            && self.layout.has_run(&id)
        {
            return Ok(Some(id));
        }
        Ok(self.layout.last_run())
    }

    /// The running or last run.
    pub async fn status(&self) -> Result<StatusReport, OwnershipError> {
        let running = self.unit.running_id().await?;
        let Some(run_id) = running.clone().or_else(|| self.layout.last_run()) else {
            return Ok(StatusReport {
                state: RunState::None,
                run_id: None,
                started_at: None,
                units_done: 0,
                units_total: 0,
                running: Vec::new(),
                summary: None,
            });
        };
        let events = runlog::read_all(&self.layout.events_path(&run_id)).unwrap_or_default();
        Ok(status_report(&run_id, &events, running.is_some()))
    }

    /// Signals the running run to start no more units (and with `stop_units`, to stop the running
    /// ones). `None` when no run is going.
    pub async fn cancel(&self, stop_units: bool) -> Result<Option<ActiveRun>, OwnershipError> {
        let signal = if stop_units {
            SignalKind::user_defined2()
        } else {
            SignalKind::user_defined1()
        };
        self.unit.signal(signal.as_raw_value()).await
    }
}

/// A run's status from its events; `alive`: its process still runs.
pub fn status_report(run_id: &str, events: &[Envelope], alive: bool) -> StatusReport {
    let mut started_at = None;
    let mut summary = None;
    let mut known = BTreeSet::new();
    let mut done = BTreeSet::new();
    // unit → still running; BTreeMap keeps the report's order stable.
    let mut started = BTreeMap::new();
    for envelope in events {
        match &envelope.event {
            Event::RunStarted(e) => started_at = Some(e.started_at.clone()),
            Event::StageStarted(e) => known.extend(e.units.iter().cloned()),
            Event::UnitDiscovered(e) => {
                known.insert(e.unit.clone());
            }
            Event::UnitStarted(e) => {
                known.insert(e.unit.clone());
                started.insert(e.unit.clone(), true);
            }
            Event::UnitSkipped(e) => {
                known.insert(e.unit.clone());
                done.insert(e.unit.clone());
            }
            Event::UnitFinished(e) => {
                done.insert(e.unit.clone());
                started.insert(e.unit.clone(), false);
            }
            Event::UnitTimedOut(e) => {
                done.insert(e.unit.clone());
                started.insert(e.unit.clone(), false);
            }
            Event::RunFinished(e) => summary = Some(e.summary.clone()),
            _ => {}
        }
    }
    let state = match (&summary, alive) {
        (Some(_), _) => RunState::Finished,
        (None, true) => RunState::Running,
        (None, false) => RunState::Abandoned,
    };
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    StatusReport {
        state,
        run_id: Some(run_id.to_owned()),
        started_at: started_at.or_else(|| runlog::started_at_of(run_id)),
        units_done: count(done.len()),
        units_total: count(known.len()),
        running: if state == RunState::Running {
            started
                .into_iter()
                .filter_map(|(unit, running)| running.then_some(unit))
                .collect()
        } else {
            Vec::new()
        },
        summary,
    }
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_proto::Outcome;
    use backup_orchestrator_proto::event::{StageStarted, UnitFinished, UnitStarted};

    use super::*;

    fn envelope(seq: u64, event: Event) -> Envelope {
        Envelope {
            seq,
            at_ms: 0,
            elapsed_ms: 0,
            event,
        }
    }

    fn events() -> Vec<Envelope> {
        vec![
            envelope(
                0,
                Event::StageStarted(StageStarted {
                    index: 0,
                    name: "replication".into(),
                    units: vec!["a.service".into(), "b.service".into(), "c.service".into()],
                    parallel: 0,
                    timeout_secs: 60,
                }),
            ),
            envelope(
                1,
                Event::UnitStarted(UnitStarted {
                    stage: "replication".into(),
                    unit: "a.service".into(),
                    invocation_id: None,
                    timeout_secs: 60,
                }),
            ),
            envelope(
                2,
                Event::UnitStarted(UnitStarted {
                    stage: "replication".into(),
                    unit: "b.service".into(),
                    invocation_id: None,
                    timeout_secs: 60,
                }),
            ),
            envelope(
                3,
                Event::UnitFinished(UnitFinished {
                    stage: "replication".into(),
                    unit: "a.service".into(),
                    outcome: Outcome::Success,
                    result: "success".into(),
                    active_state: "inactive".into(),
                    exit_status: Some(0),
                    duration_ms: 5,
                }),
            ),
        ]
    }

    #[test]
    fn status_counts_units_done_and_lists_the_running_ones() {
        let report = status_report("20251103T120000Z-ab12", &events(), true);
        assert_eq!(report.state, RunState::Running);
        assert_eq!((report.units_done, report.units_total), (1, 3));
        assert_eq!(report.running, ["b.service"]);
        assert_eq!(report.started_at.as_deref(), Some("2025-11-03T12:00:00Z"));
    }

    #[test]
    fn status_of_a_run_whose_process_is_gone_without_summary_is_abandoned() {
        let report = status_report("20251103T120000Z-ab12", &events(), false);
        assert_eq!(report.state, RunState::Abandoned);
        assert!(report.running.is_empty());
    }
}
