//! [`Signals`]: what the one stream of systemd's signals for the whole connection (read by one
//! task, `signal_task.rs`) keeps for the calls: job ends, followed units' states, kept
//! `ActiveState`s.
//!
//! One task (`signal_task.rs`) reads one stream of systemd's signals for the whole connection, from
//! before the first `StartUnit` to the end, and never stops polling it (a full zbus stream stalls
//! the connection). It hands each `JobRemoved` to the watch waiting for that job (by job object
//! path; one that arrives before its `StartUnit` caller has registered the path is kept a while,
//! see [`UNCLAIMED`]) and keeps the last announced state of each followed unit from its
//! `PropertiesChanged`, and the `ActiveState` of each unit whose turn is still to come.
//!
//! A unit's `ActiveState` read once and then updated from every `PropertiesChanged` systemd sends
//! for it is as current as a new read would be: systemd announces every change of it. A signal
//! that arrives after the read was asked for takes precedence over the read's answer; it can only
//! be older than the answer if nothing changed in between, and then it says the same.
//!
//! systemd sends a unit's pending `PropertiesChanged` before the `JobRemoved` of its job
//! (`bus_job_send_removed_signal` flushes them first), and one stream keeps the bus order, so when
//! a watch learns that its job ended, the unit's final state is already known: no property read,
//! no `RefUnit`. That matters: systemd garbage-collects a oneshot that has finished before it
//! answers the next request, and a property read after `JobRemoved` loads it afresh from disk
//! (verified on systemd 252: `InvocationID` empty, `ExecMainCode` 0). Only a job that changed
//! nothing about its unit (it was already in the state the job wanted) announces nothing; then
//! the state is read, and whatever systemd answers, reloaded or not, is that unchanged state.
//!
//! Signals are checked to come from the current owner of `org.freedesktop.systemd1`, followed from
//! the bus's `NameOwnerChanged` (a second, small queue read by the same task): any client may send
//! a signal straight to us, and the task drops those without a bus call (see `sender_check.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{oneshot, watch};
use zbus::Message;
use zbus::fdo::PropertiesChanged;

use super::names::{UNIT_INTERFACE, UNIT_PATH_PREFIX, type_interface, unit_object_path};
use super::proxies::JobRemoved;
use super::unit_state::UnitState;

/// `JobRemoved` signals kept for a caller that has not registered its job yet. Between a
/// `StartUnit` reply and the registration there is only a task switch; the others in the queue are
/// other clients' jobs.
const UNCLAIMED: usize = 256;

/// What the signal task shares with the watches.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    state: Mutex<SignalState>,
    /// Signals dropped because another client than systemd sent them.
    foreign: AtomicU64,
}

#[derive(Debug, Default)]
struct SignalState {
    /// The stream ended (the connection closed): nothing more will arrive.
    closed: bool,
    /// Start jobs being waited for, by job object path.
    jobs: HashMap<String, oneshot::Sender<String>>,
    /// `JobRemoved`s nobody waited for (yet), oldest first: job path, result.
    unclaimed: VecDeque<(String, String)>,
    /// Units being followed, by object path.
    units: HashMap<String, Followed>,
    /// Units whose `ActiveState` is kept, by object path.
    states: HashMap<String, Tracked>,
}

/// A unit's `ActiveState` as read, and as announced since the read was asked for.
#[derive(Debug, Default)]
struct Tracked {
    read: Option<String>,
    announced: Option<String>,
}

#[derive(Debug)]
struct Followed {
    /// [`Follow`]s of this unit (a unit can be followed twice, e.g. a timed-out one still
    /// running while a later stage starts it again).
    follows: usize,
    /// The unit type's interface (`…systemd1.Service`), `None` for types without a `Result`.
    kind: Option<String>,
    state: watch::Sender<UnitState>,
}

impl Signals {
    fn lock(&self) -> MutexGuard<'_, SignalState> {
        // Nothing panics while holding it; a poisoned lock still holds consistent data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many signals other clients than systemd sent us (dropped).
    pub(crate) fn foreign(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    /// A signal another client than systemd sent us, dropped.
    pub(crate) fn count_foreign(&self) {
        self.foreign.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts keeping `unit`'s announced state, until the returned [`Follow`] is dropped.
    pub(crate) fn follow(self: &Arc<Self>, unit: &str) -> Follow {
        let path = unit_object_path(unit);
        let kind = type_interface(unit);
        let mut state = self.lock();
        let followed = state.units.entry(path.clone()).or_insert_with(|| Followed {
            follows: 0,
            kind: kind.clone(),
            state: watch::Sender::new(UnitState::default()),
        });
        followed.follows += 1;
        Follow {
            signals: Arc::clone(self),
            path,
            kind,
            changed: followed.state.subscribe(),
        }
    }

    /// Starts keeping the `ActiveState`s of `units`; returns those not kept before (to be read).
    pub(crate) fn track(&self, units: &[String]) -> Vec<String> {
        let mut state = self.lock();
        units
            .iter()
            .filter(|unit| {
                let path = unit_object_path(unit);
                let new = !state.states.contains_key(&path);
                if new {
                    state.states.insert(path, Tracked::default());
                }
                new
            })
            .cloned()
            .collect()
    }

    /// What a read of `unit`'s `ActiveState` answered.
    pub(crate) fn record_read(&self, unit: &str, active_state: &str) {
        if let Some(tracked) = self.lock().states.get_mut(&unit_object_path(unit)) {
            tracked.read = Some(active_state.to_owned());
        }
    }

    /// Stops keeping the states of `units` (their read failed).
    pub(crate) fn untrack(&self, units: &[String]) {
        let mut state = self.lock();
        for unit in units {
            state.states.remove(&unit_object_path(unit));
        }
    }

    /// `unit`'s `ActiveState` as kept: announced since the read, else read; `None` if unknown.
    pub(crate) fn tracked_state(&self, unit: &str) -> Option<String> {
        let state = self.lock();
        let tracked = state.states.get(&unit_object_path(unit))?;
        tracked.announced.clone().or_else(|| tracked.read.clone())
    }

    /// The result of `job`, once its `JobRemoved` has arrived (or at once if it has already).
    /// Errs (the sender is dropped) when the connection closes first.
    pub(crate) fn job_end(&self, job: &str) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        let mut state = self.lock();
        if let Some(at) = state.unclaimed.iter().position(|(path, _)| path == job) {
            if let Some((_, result)) = state.unclaimed.remove(at) {
                let _ = sender.send(result);
            }
        } else if !state.closed {
            state.jobs.insert(job.to_owned(), sender);
        }
        receiver
    }

    /// One signal from systemd.
    pub(crate) fn receive(&self, msg: &Message) {
        let header = msg.header();
        match header.member().map(|m| m.as_str()) {
            Some("JobRemoved") => {
                if let Some(signal) = JobRemoved::from_message(msg.clone())
                    && let Ok(args) = signal.args()
                {
                    self.job_removed(args.job.as_str(), args.result);
                }
            }
            Some("PropertiesChanged") => {
                let Some(path) = header.path() else {
                    return;
                };
                if !path.starts_with(UNIT_PATH_PREFIX) {
                    return;
                }
                let mut state = self.lock();
                let state = &mut *state;
                let followed = state.units.get(path.as_str());
                let tracked = state.states.get_mut(path.as_str());
                if followed.is_none() && tracked.is_none() {
                    return;
                }
                let Some(signal) = PropertiesChanged::from_message(msg.clone()) else {
                    return;
                };
                let Ok(args) = signal.args() else {
                    return;
                };
                let interface = args.interface_name().as_str();
                let changed = args.changed_properties();
                if let Some(followed) = followed {
                    followed.state.send_modify(|unit| {
                        unit.announce(interface, followed.kind.as_deref(), changed);
                    });
                }
                if let Some(tracked) = tracked
                    && interface == UNIT_INTERFACE
                    && let Some(active) = changed.get("ActiveState")
                    && let Ok(active) = active.downcast_ref::<&str>()
                {
                    tracked.announced = Some(active.to_owned());
                }
            }
            _ => {}
        }
    }

    fn job_removed(&self, job: &str, result: &str) {
        let mut state = self.lock();
        if let Some(waiting) = state.jobs.remove(job) {
            let _ = waiting.send(result.to_owned());
            return;
        }
        if state.unclaimed.len() == UNCLAIMED {
            state.unclaimed.pop_front();
        }
        state
            .unclaimed
            .push_back((job.to_owned(), result.to_owned()));
    }

    /// The stream ended: every waiter learns it (their senders are dropped).
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.jobs.clear();
        state.units.clear();
    }
}

/// A unit whose announced state is kept while this lives.
#[derive(Debug)]
pub(crate) struct Follow {
    signals: Arc<Signals>,
    /// The unit's object path.
    pub(crate) path: String,
    /// The unit type's interface, see [`Followed::kind`].
    pub(crate) kind: Option<String>,
    pub(crate) changed: watch::Receiver<UnitState>,
}

impl Follow {
    /// The state announced so far (marked as seen).
    pub(crate) fn latest(&mut self) -> UnitState {
        self.changed.borrow_and_update().clone()
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let mut state = self.signals.lock();
        if let Some(followed) = state.units.get_mut(&self.path) {
            followed.follows -= 1;
            if followed.follows == 0 {
                state.units.remove(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use zbus::ObjectPath;
    use zbus::Variant;

    use super::super::names::SERVICE_INTERFACE;

    use super::*;

    fn properties_changed(unit: &str, interface: &str, changed: &[(&str, Variant)]) -> Message {
        let changed: HashMap<&str, &Variant> = changed.iter().map(|(k, v)| (*k, v)).collect();
        Message::signal(
            unit_object_path(unit),
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
        )
        .build(&(interface, changed, Vec::<&str>::new()))
        .unwrap()
    }

    fn job_removed(id: u32, unit: &str, result: &str) -> Message {
        let job = ObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}")).unwrap();
        Message::signal(
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
        )
        .build(&(id, job, unit, result))
        .unwrap()
    }

    #[tokio::test]
    async fn a_unit_s_end_is_known_from_the_signals_before_its_job_removed() {
        let signals = Arc::new(Signals::default());
        let mut follow = signals.follow("a.service");
        // Another unit's signals are not kept.
        signals.receive(&properties_changed(
            "b.service",
            UNIT_INTERFACE,
            &[("ActiveState", Variant::from("active"))],
        ));
        signals.receive(&properties_changed(
            "a.service",
            SERVICE_INTERFACE,
            &[
                ("Result", Variant::from("success")),
                ("ExecMainCode", Variant::from(1_i32)),
                ("ExecMainStatus", Variant::from(0_i32)),
            ],
        ));
        signals.receive(&properties_changed(
            "a.service",
            UNIT_INTERFACE,
            &[
                ("ActiveState", Variant::from("inactive")),
                ("SubState", Variant::from("dead")),
                ("InvocationID", Variant::from(vec![1_u8, 2])),
            ],
        ));
        signals.receive(&job_removed(42, "a.service", "done"));
        let job = signals.job_end("/org/freedesktop/systemd1/job/42");
        assert_eq!(job.await.as_deref(), Ok("done"));
        let state = follow.latest();
        assert!(state.is_complete(&follow.kind));
        assert_eq!(
            state.finish("a.service", "done".to_owned()).invocation_id,
            Some("0102".to_owned())
        );
        drop(follow);
        assert!(signals.lock().units.is_empty());
    }

    #[test]
    fn kept_states_take_the_announced_state_over_the_read_one() {
        let signals = Signals::default();
        let units = ["a.service".to_owned(), "b.service".to_owned()];
        assert_eq!(signals.track(&units), units);
        assert_eq!(signals.track(&units), Vec::<String>::new());
        assert_eq!(signals.tracked_state("a.service"), None);
        signals.record_read("a.service", "inactive");
        signals.record_read("b.service", "inactive");
        // b's timer started it after the read.
        signals.receive(&properties_changed(
            "b.service",
            UNIT_INTERFACE,
            &[("ActiveState", Variant::from("activating"))],
        ));
        assert_eq!(
            signals.tracked_state("a.service").as_deref(),
            Some("inactive")
        );
        assert_eq!(
            signals.tracked_state("b.service").as_deref(),
            Some("activating")
        );
        // A read that answers after the signal does not undo it.
        signals.record_read("b.service", "inactive");
        assert_eq!(
            signals.tracked_state("b.service").as_deref(),
            Some("activating")
        );
        signals.untrack(&units);
        assert_eq!(signals.tracked_state("b.service"), None);
    }

    #[test]
    fn job_ends_are_kept_for_a_caller_that_registers_late() {
        let signals = Signals::default();
        signals.job_removed("/org/freedesktop/systemd1/job/7", "done");
        let mut early = signals.job_end("/org/freedesktop/systemd1/job/7");
        assert_eq!(early.try_recv().as_deref(), Ok("done"));
        let mut waiting = signals.job_end("/org/freedesktop/systemd1/job/8");
        assert!(waiting.try_recv().is_err());
        signals.job_removed("/org/freedesktop/systemd1/job/8", "failed");
        assert_eq!(waiting.try_recv().as_deref(), Ok("failed"));
        // Unclaimed ends are bounded.
        for n in 0..UNCLAIMED + 10 {
            signals.job_removed(&format!("/j/{n}"), "done");
        }
        assert_eq!(signals.lock().unclaimed.len(), UNCLAIMED);
        // A closed stream ends every wait.
        let mut pending = signals.job_end("/org/freedesktop/systemd1/job/9");
        signals.close();
        assert!(matches!(
            pending.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
