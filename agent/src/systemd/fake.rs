//! [`FakeSystemd`]: an in-memory, deterministic systemd for the engine's tests. Units run for a
//! set (tokio, so pausable) time, or until stopped; it records what was started and stopped and
//! the most units that ran at once.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::api::{Systemd, SystemdError, UnitFinish, UnitWatch};
use crate::plan::pattern;

/// How a fake unit behaves when started.
#[derive(Clone, Debug)]
pub(crate) struct FakeUnit {
    /// `ActiveState` before the run.
    pub active_state: String,
    /// `None`: runs until stopped.
    pub runs_for: Option<Duration>,
    /// `Result` when it ends by itself (`success`, `exit-code`, …).
    pub result: String,
    pub exit_status: i32,
    /// StartUnit fails with this D-Bus error (e.g. a masked unit).
    pub start_error: Option<zbus::fdo::Error>,
    /// StartUnit is never answered (a systemd too busy to).
    pub start_unanswered: bool,
}

impl FakeUnit {
    pub fn ok(runs_for: Duration) -> FakeUnit {
        FakeUnit {
            active_state: "inactive".to_owned(),
            runs_for: Some(runs_for),
            result: "success".to_owned(),
            exit_status: 0,
            start_error: None,
            start_unanswered: false,
        }
    }

    pub fn failing(runs_for: Duration) -> FakeUnit {
        FakeUnit {
            result: "exit-code".to_owned(),
            exit_status: 1,
            ..FakeUnit::ok(runs_for)
        }
    }

    pub fn hanging() -> FakeUnit {
        FakeUnit {
            runs_for: None,
            ..FakeUnit::ok(Duration::ZERO)
        }
    }

    pub fn in_state(state: &str) -> FakeUnit {
        FakeUnit {
            active_state: state.to_owned(),
            ..FakeUnit::ok(Duration::ZERO)
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    pub units: BTreeMap<String, FakeUnit>,
    /// Units running now, with the notifier their stop uses.
    running: HashMap<String, Rc<Notify>>,
    pub max_running: usize,
    /// Start order, with the (tokio) time of each start.
    pub started: Vec<(String, Instant)>,
    pub stopped: Vec<String>,
    pub fail_discovery: bool,
    /// How long each discovery takes.
    pub discovery_delay: Duration,
    /// When each discovery was asked for, with its patterns.
    pub discoveries: Vec<(Vec<String>, Instant)>,
    /// The units of each `active_states` call.
    pub state_reads: Vec<Vec<String>>,
    /// `active_states` fails.
    pub fail_state_reads: bool,
}

/// Cheap to clone: clones share one state.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeSystemd {
    pub state: Rc<RefCell<FakeState>>,
}

impl FakeSystemd {
    pub fn new(units: impl IntoIterator<Item = (&'static str, FakeUnit)>) -> FakeSystemd {
        let fake = FakeSystemd::default();
        fake.state.borrow_mut().units = units
            .into_iter()
            .map(|(name, unit)| (name.to_owned(), unit))
            .collect();
        fake
    }

    pub fn started(&self) -> Vec<String> {
        self.state
            .borrow()
            .started
            .iter()
            .map(|(u, _)| u.clone())
            .collect()
    }

    pub fn start_time(&self, unit: &str) -> Option<Instant> {
        self.state
            .borrow()
            .started
            .iter()
            .find(|(u, _)| u == unit)
            .map(|(_, at)| *at)
    }

    pub fn stopped(&self) -> Vec<String> {
        self.state.borrow().stopped.clone()
    }

    pub fn max_running(&self) -> usize {
        self.state.borrow().max_running
    }

    pub fn running_now(&self) -> usize {
        self.state.borrow().running.len()
    }
}

fn no_such_unit(unit: &str) -> zbus::fdo::Error {
    zbus::fdo::Error::FileNotFound(format!("Unit {unit} not found."))
}

impl Systemd for FakeSystemd {
    type Watch = FakeWatch;

    async fn discover(
        &self,
        patterns: &[String],
        exclude: &[String],
    ) -> Result<Vec<String>, SystemdError> {
        let delay = {
            let mut state = self.state.borrow_mut();
            state.discoveries.push((patterns.to_vec(), Instant::now()));
            state.discovery_delay
        };
        tokio::time::sleep(delay).await;
        let state = self.state.borrow();
        if state.fail_discovery {
            return Err(SystemdError::Discover {
                patterns: patterns.to_vec(),
                source: zbus::Error::FDO(Box::new(zbus::fdo::Error::NoReply(
                    "systemd did not answer".to_owned(),
                )))
                .into(),
            });
        }
        Ok(pattern::resolve_units(
            patterns,
            exclude,
            state.units.keys().map(String::as_str),
        ))
    }

    async fn active_states(&self, units: &[String]) -> Result<Vec<String>, SystemdError> {
        let mut state = self.state.borrow_mut();
        state.state_reads.push(units.to_vec());
        if state.fail_state_reads {
            return Err(SystemdError::State {
                units: units.to_vec(),
                source: zbus::Error::FDO(Box::new(zbus::fdo::Error::NoReply(
                    "systemd did not answer".to_owned(),
                )))
                .into(),
            });
        }
        Ok(units
            .iter()
            .map(|unit| {
                if state.running.contains_key(unit) {
                    return "activating".to_owned();
                }
                state
                    .units
                    .get(unit)
                    .map_or_else(|| "inactive".to_owned(), |u| u.active_state.clone())
            })
            .collect())
    }

    async fn start_and_watch(&self, unit: &str) -> Result<FakeWatch, SystemdError> {
        let unanswered = self
            .state
            .borrow()
            .units
            .get(unit)
            .is_some_and(|u| u.start_unanswered);
        if unanswered {
            return std::future::pending().await;
        }
        let mut state = self.state.borrow_mut();
        let start_error = |e: zbus::fdo::Error| SystemdError::Start {
            unit: unit.to_owned(),
            source: zbus::Error::FDO(Box::new(e)).into(),
        };
        let Some(behaviour) = state.units.get(unit).cloned() else {
            return Err(start_error(no_such_unit(unit)));
        };
        if let Some(e) = behaviour.start_error {
            return Err(start_error(e));
        }

        let stop = Rc::new(Notify::new());
        state.running.insert(unit.to_owned(), stop.clone());
        state.max_running = state.max_running.max(state.running.len());
        state.started.push((unit.to_owned(), Instant::now()));
        Ok(FakeWatch {
            state: self.state.clone(),
            unit: unit.to_owned(),
            behaviour,
            stop,
        })
    }

    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        let mut state = self.state.borrow_mut();
        state.stopped.push(unit.to_owned());
        if let Some(stop) = state.running.get(unit) {
            stop.notify_one();
        }
        Ok(())
    }
    async fn failure_journal(&self, invocation_id: &str) -> Vec<String> {
        vec![format!("journal of invocation {invocation_id}")]
    }
}

#[derive(Debug)]
pub(crate) struct FakeWatch {
    state: Rc<RefCell<FakeState>>,
    unit: String,
    behaviour: FakeUnit,
    stop: Rc<Notify>,
}

impl UnitWatch for FakeWatch {
    async fn finished(self) -> Result<UnitFinish, SystemdError> {
        let ran_out = async {
            match self.behaviour.runs_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let stopped = tokio::select! {
            () = ran_out => false,
            () = self.stop.notified() => true,
        };
        self.state.borrow_mut().running.remove(&self.unit);
        Ok(if stopped {
            UnitFinish {
                job_result: "canceled".to_owned(),
                result: "success".to_owned(),
                active_state: "inactive".to_owned(),
                exit_status: None,
                invocation_id: None,
            }
        } else {
            let failed = self.behaviour.result != "success";
            UnitFinish {
                job_result: if failed { "failed" } else { "done" }.to_owned(),
                result: self.behaviour.result.clone(),
                active_state: if failed { "failed" } else { "inactive" }.to_owned(),
                exit_status: Some(self.behaviour.exit_status),
                invocation_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
            }
        })
    }
}
