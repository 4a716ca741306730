//! [`status_report`]: a run's status (`status`, the controller's `Status` request) from its events.

use std::collections::{BTreeMap, BTreeSet};

use backup_orchestrator_proto::{Envelope, Event, RunState, StatusReport};

use crate::runlog;

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
                    journal: vec![],
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
