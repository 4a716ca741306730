//! [`RunView`]: what a renderer knows about the run so far, built only from the envelopes.
//!
//! Every front end keeps one. It drops envelopes already seen (a re-attach replays the log from the
//! start, or a reconnect overlaps the live stream): [`RunView::is_new`] is the one place in the
//! workspace where an event is filtered by `seq`. The controller's session passes on every envelope
//! it receives (it only remembers the highest `seq`, to resume after it), so the display decides
//! alone what was already shown. The view also numbers the stages for display, and remembers
//! each unit's start (in run time, `elapsed_ms`) and first final outcome, so a unit that timed out
//! and later finished is counted once, and a replayed run shows the durations it really had.

use std::collections::HashMap;

use backup_orchestrator_proto::event::RunStarted;
use backup_orchestrator_proto::{Envelope, Event, Outcome, Tally};

#[derive(Clone, Debug)]
pub(crate) struct StageView {
    /// 0-based, as on the wire; shown as `Stage {index + 1}`.
    pub index: u32,
    pub name: String,
    pub units: Vec<String>,
    /// Units with a final outcome (finished, skipped, timed out).
    pub done: u32,
    pub counts: Tally,
    /// Set by `StageFinished`.
    pub duration_ms: Option<u64>,
}

impl StageView {
    pub fn number(&self) -> u32 {
        self.index.saturating_add(1)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct UnitView {
    /// Run time (`elapsed_ms`) of its `UnitStarted`.
    pub started_ms: Option<u64>,
    /// The first final outcome seen; later events for the unit change no count.
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Default)]
pub(crate) struct RunView {
    last_seq: Option<u64>,
    clock_ms: u64,
    run: Option<RunStarted>,
    preflight_seen: bool,
    stages: Vec<StageView>,
    units: HashMap<String, UnitView>,
}

impl RunView {
    /// Whether `envelope` is new. Envelopes at or below the last seen `seq` are replays.
    pub fn is_new(&self, envelope: &Envelope) -> bool {
        self.last_seq.is_none_or(|last| envelope.seq > last)
    }

    /// Takes a new envelope into account (call [`RunView::is_new`] first).
    pub fn apply(&mut self, envelope: &Envelope) {
        self.last_seq = Some(envelope.seq);
        self.clock_ms = self.clock_ms.max(envelope.elapsed_ms);
        match &envelope.event {
            Event::RunStarted(run) => self.run = Some(run.clone()),
            Event::PreflightCheck(_) => self.preflight_seen = true,
            Event::StageStarted(s) => {
                let stage = self.stage_entry(&s.name, Some(s.index));
                stage.units.clone_from(&s.units);
            }
            Event::StageFinished(f) => {
                let stage = self.stage_entry(&f.name, Some(f.index));
                stage.counts = f.tally();
                stage.duration_ms = Some(f.duration_ms);
            }
            Event::UnitDiscovered(u) => {
                self.unit_entry(&u.stage, &u.unit);
            }
            Event::UnitStarted(u) => {
                self.unit_entry(&u.stage, &u.unit).started_ms = Some(envelope.elapsed_ms);
            }
            Event::UnitSkipped(u) => self.settle(&u.stage, &u.unit, Outcome::Skipped),
            Event::UnitTimedOut(u) => self.settle(&u.stage, &u.unit, Outcome::TimedOut),
            Event::UnitFinished(u) => self.settle(&u.stage, &u.unit, u.outcome),
            Event::Log(_) | Event::LogIncomplete(_) | Event::RunFinished(_) | Event::Unknown => {}
        }
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// The run time of the latest envelope: the run's own clock, the same in a replay.
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    pub fn preflight_seen(&self) -> bool {
        self.preflight_seen
    }

    /// The host the run reported in `RunStarted`.
    pub fn host(&self) -> Option<&str> {
        self.run.as_ref().map(|r| r.host.as_str())
    }

    pub fn stages(&self) -> &[StageView] {
        &self.stages
    }

    pub fn stage(&self, name: &str) -> Option<&StageView> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn unit(&self, name: &str) -> Option<&UnitView> {
        self.units.get(name)
    }

    /// Units known so far (discovered or seen), those with a final outcome, and those running.
    pub fn unit_counts(&self) -> (u64, u64, u64) {
        let known = self.units.len() as u64;
        let done = self.units.values().filter(|u| u.outcome.is_some()).count() as u64;
        let running = self
            .units
            .values()
            .filter(|u| u.outcome.is_none() && u.started_ms.is_some())
            .count() as u64;
        (known, done, running)
    }

    /// How many stages the plan has: the verdict is shown as `Stage {count + 1}`.
    pub fn stage_count(&self) -> u32 {
        let planned = self.run.as_ref().map_or(0, |r| r.plan.stages.len());
        let seen = self.stages.iter().map(|s| s.number()).max().unwrap_or(0);
        u32::try_from(planned).unwrap_or(u32::MAX).max(seen)
    }

    pub fn failure_threshold_percent(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.plan.failure_threshold_percent)
    }

    /// The plan says the stage's failures are warnings (`on_failure = "warn"`).
    pub fn stage_warns_only(&self, name: &str) -> bool {
        self.run
            .as_ref()
            .and_then(|r| r.plan.stages.iter().find(|s| s.name == name))
            .is_some_and(|s| s.warn_only)
    }

    fn settle(&mut self, stage: &str, unit: &str, outcome: Outcome) {
        let entry = self.unit_entry(stage, unit);
        if entry.outcome.is_some() {
            return;
        }
        entry.outcome = Some(outcome);
        let stage = self.stage_entry(stage, None);
        stage.done += 1;
        stage.counts.add(outcome);
    }

    fn unit_entry(&mut self, stage: &str, unit: &str) -> &mut UnitView {
        self.stage_entry(stage, None);
        self.units
            .entry(unit.to_owned())
            .or_insert_with(|| UnitView {
                started_ms: None,
                outcome: None,
            })
    }

    fn stage_entry(&mut self, name: &str, index: Option<u32>) -> &mut StageView {
        let pos = match self.stages.iter().position(|s| s.name == name) {
            Some(pos) => pos,
            None => {
                let index =
                    index.unwrap_or_else(|| u32::try_from(self.stages.len()).unwrap_or(u32::MAX));
                self.stages.push(StageView {
                    index,
                    name: name.to_owned(),
                    units: Vec::new(),
                    done: 0,
                    counts: Tally::default(),
                    duration_ms: None,
                });
                self.stages.len() - 1
            }
        };
        let stage = &mut self.stages[pos];
        if let Some(index) = index {
            stage.index = index;
        }
        stage
    }
}
