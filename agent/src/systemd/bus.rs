//! [`SystemdBus`]: the [`Systemd`] trait over one system-bus connection to PID 1.
//!
//! systemd is single-threaded and on every unit's critical path: each call it answers delays every
//! other, so this asks it as little as possible. What one run puts on the bus:
//!
//! ```text
//!  connect        AddMatch(every signal systemd sends) ∥ Subscribe ∥ GetNameOwner     (bus, once)
//!  discovery      Get Manager.UnitPath (once), then per stage with globs: read_dir of those
//!                 directories ∥ ListUnitsByPatterns(globs)                  (see unit_files.rs)
//!  skip check     ListUnitsByPatterns(names) of a stage's units once they are discovered (while
//!                 the previous stage runs), then kept current from their PropertiesChanged: at
//!                 each unit's turn its state is known without asking
//!  each unit      StartUnit; its end arrives as signals: the unit's PropertiesChanged (state,
//!                 Result, ExecMainCode/Status, InvocationID), then its JobRemoved
//! ```
//!
//! # Signals
//!
//! One task ([`dispatch`]) reads one stream of systemd's signals for the whole connection, from
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
//! Signals are checked to come from the current owner of `org.freedesktop.systemd1`: any client
//! may send a signal straight to us.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::StreamExt;
use tokio::sync::{OnceCell, oneshot, watch};
use zbus::fdo::{DBusProxy, PropertiesChanged, PropertiesProxy};
use zbus::message::Type;
use zbus::names::{BusName, InterfaceName};
use zbus::proxy::CacheProperties;
use zbus::{Connection, MatchRule, Message, MessageStream, ObjectPath, OwnedVariant, Variant};

use super::proxies::{JobRemoved, ManagerProxy};
use super::{Systemd, SystemdError, UnitFinish, UnitWatch, unit_files};
use crate::plan::pattern;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";
const UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit/";

/// Room in the signal stream's queue. The task empties it continuously; this only absorbs bursts
/// (every unit of a stage starting at once sends ~10 signals each).
const SIGNAL_QUEUE: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// `JobRemoved` signals kept for a caller that has not registered its job yet. Between a
/// `StartUnit` reply and the registration there is only a task switch; the others in the queue are
/// other clients' jobs.
const UNCLAIMED: usize = 256;

/// systemd's manager on the system bus. Cheap to clone (one shared connection and signal task).
#[derive(Clone, Debug)]
pub struct SystemdBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    manager: ManagerProxy<'static>,
    signals: Arc<Signals>,
    /// systemd's unit search path (`Manager.UnitPath`), read at the first discovery with globs.
    unit_path: OnceCell<Vec<PathBuf>>,
    /// The signal task, stopped with the last clone.
    _dispatcher: AbortOnDrop,
}

#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SystemdBus {
    /// Connects to the system bus and subscribes to systemd's signals.
    pub async fn connect() -> Result<SystemdBus, SystemdError> {
        let conn = Connection::system()
            .await
            .map_err(|source| SystemdError::Connect { source })?;
        SystemdBus::with_connection(conn).await
    }

    /// Uses an existing connection to a bus where systemd runs (the system bus). Starts the signal
    /// task (on the current tokio runtime).
    pub async fn with_connection(conn: Connection) -> Result<SystemdBus, SystemdError> {
        let connect = |source| SystemdError::Connect { source };
        let subscribe = |source| SystemdError::Subscribe { source };
        let manager = ManagerProxy::builder(&conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(connect)?;
        // Every signal systemd sends: the bus resolves the well-known name to its owner at each
        // signal, so this still holds after a daemon-reexec.
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(SYSTEMD)
            .build()
            .map_err(subscribe)?;
        let sender_check = async {
            let dbus = DBusProxy::builder(&conn)
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            let owner = dbus.get_name_owner(BusName::try_from(SYSTEMD)?).await?;
            Ok::<_, zbus::Error>(SenderCheck {
                dbus,
                owner: owner.to_string(),
                strangers: HashSet::new(),
            })
        };
        let (stream, (), sender_check) = tokio::try_join!(
            MessageStream::for_match_rule(rule, &conn, Some(SIGNAL_QUEUE)),
            async { manager.subscribe().await },
            sender_check,
        )
        .map_err(subscribe)?;
        let signals = Arc::new(Signals::default());
        let dispatcher = tokio::spawn(dispatch(stream, sender_check, Arc::clone(&signals)));
        Ok(SystemdBus {
            inner: Arc::new(Inner {
                conn,
                manager,
                signals,
                unit_path: OnceCell::new(),
                _dispatcher: AbortOnDrop(dispatcher),
            }),
        })
    }

    /// The connection, for other users of the bus in the agent (one connection per process).
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// `org.freedesktop.DBus.Properties` of a unit object, uncached: every read asks systemd.
    async fn properties(&self, path: &str) -> zbus::Result<PropertiesProxy<'static>> {
        PropertiesProxy::builder(&self.inner.conn)
            .destination(SYSTEMD)
            .path(ObjectPath::try_from(path.to_owned())?)
            .cache_properties(CacheProperties::No)
            .build()
            .await
    }

    /// Reads the `ActiveState`s of `units` (being tracked, see [`Signals::track`]) in one call;
    /// on failure they are no longer tracked, so that the next read asks again.
    async fn read_states(&self, units: &[String]) -> Result<(), SystemdError> {
        if units.is_empty() {
            return Ok(());
        }
        // Only loaded units are listed, and nothing is loaded to answer: a unit systemd has not
        // loaded is not running (systemd never collects a unit that is active or has a job), so
        // it is `inactive`. Unit names contain no glob characters, and systemd matches with
        // FNM_NOESCAPE, so each name matches itself only. (A name that is an alias is not listed
        // under that name: it counts as inactive.)
        let names: Vec<&str> = units.iter().map(String::as_str).collect();
        let listed = match self.inner.manager.list_units_by_patterns(&[], &names).await {
            Ok(listed) => listed,
            Err(source) => {
                self.inner.signals.untrack(units);
                return Err(SystemdError::State {
                    units: units.to_vec(),
                    source,
                });
            }
        };
        let states: HashMap<&str, &str> = listed
            .iter()
            .map(|unit| (unit.0.as_str(), unit.3.as_str()))
            .collect();
        for unit in units {
            let state = states.get(unit.as_str()).unwrap_or(&"inactive");
            self.inner.signals.record_read(unit, state);
        }
        Ok(())
    }

    async fn unit_path(&self) -> zbus::Result<&[PathBuf]> {
        let dirs = self
            .inner
            .unit_path
            .get_or_try_init(|| async {
                let dirs = self.inner.manager.unit_path().await?;
                Ok::<_, zbus::Error>(dirs.into_iter().map(PathBuf::from).collect())
            })
            .await?;
        Ok(dirs)
    }
}

impl Systemd for SystemdBus {
    type Watch = BusWatch;

    async fn discover(
        &self,
        patterns: &[String],
        exclude: &[String],
    ) -> Result<Vec<String>, SystemdError> {
        let discover_error = |source| SystemdError::Discover {
            patterns: patterns.to_vec(),
            source,
        };
        // Literal names are in the result whether or not they exist (resolve_units), so only
        // globs are looked for. No globs: nothing to look for (an empty pattern list would mean
        // "every unit" to systemd).
        let globs: Vec<&str> = patterns
            .iter()
            .map(String::as_str)
            .filter(|p| pattern::is_glob(p))
            .collect();
        if globs.is_empty() {
            return Ok(pattern::resolve_units(patterns, exclude, []));
        }
        // Unit files find the units that are not loaded (a finished oneshot is unloaded); loaded
        // units find the others (mounts, devices, units created over the bus). Files are read
        // here rather than listed by systemd: see unit_files.rs.
        let (dirs, loaded) = tokio::try_join!(
            self.unit_path(),
            self.inner.manager.list_units_by_patterns(&[], &globs),
        )
        .map_err(discover_error)?;
        let files = unit_files::matching(dirs, &globs)
            .map_err(|e| discover_error(zbus::Error::InputOutput(Arc::new(e))))?;
        let from_loaded = loaded
            .iter()
            .filter(|unit| unit.2 != "not-found")
            .map(|unit| unit.0.as_str());
        Ok(pattern::resolve_units(
            patterns,
            exclude,
            files.iter().map(String::as_str).chain(from_loaded),
        ))
    }

    async fn anticipate(&self, units: &[String]) -> Result<(), SystemdError> {
        let new = self.inner.signals.track(units);
        self.read_states(&new).await
    }

    async fn active_states(&self, units: &[String]) -> Result<Vec<String>, SystemdError> {
        let unknown: Vec<String> = units
            .iter()
            .filter(|unit| self.inner.signals.tracked_state(unit).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            self.inner.signals.track(&unknown);
            self.read_states(&unknown).await?;
        }
        Ok(units
            .iter()
            .map(|unit| {
                self.inner
                    .signals
                    .tracked_state(unit)
                    .unwrap_or_else(|| "inactive".to_owned())
            })
            .collect())
    }

    async fn start_and_watch(&self, unit: &str) -> Result<BusWatch, SystemdError> {
        // Followed before StartUnit: the signals of its start are kept from the first one.
        let follow = self.inner.signals.follow(unit);
        let job = self
            .inner
            .manager
            .start_unit(unit, "replace")
            .await
            .map_err(|source| SystemdError::Start {
                unit: unit.to_owned(),
                source,
            })?;
        let job_end = self.inner.signals.job_end(job.as_str());
        Ok(BusWatch {
            bus: self.clone(),
            unit: unit.to_owned(),
            follow,
            job_end,
        })
    }

    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        self.inner
            .manager
            .stop_unit(unit, "replace")
            .await
            .map(|_job| ())
            .map_err(|source| SystemdError::Stop {
                unit: unit.to_owned(),
                source,
            })
    }
}

/// A unit started by [`SystemdBus::start_and_watch`], followed to its end by
/// [`UnitWatch::finished`].
#[derive(Debug)]
pub struct BusWatch {
    bus: SystemdBus,
    unit: String,
    follow: Follow,
    /// The start job's result, from its `JobRemoved`.
    job_end: oneshot::Receiver<String>,
}

impl UnitWatch for BusWatch {
    async fn finished(self) -> Result<UnitFinish, SystemdError> {
        let BusWatch {
            bus,
            unit,
            mut follow,
            job_end,
        } = self;
        let Ok(job_result) = job_end.await else {
            return Err(SystemdError::Disconnected { unit });
        };
        // Whatever the unit announced until now, its final PropertiesChanged included.
        let mut state = follow.latest();
        if !state.is_complete(&follow.kind) {
            // It announced nothing (see the module doc): ask.
            state =
                read_state(&bus, &follow, &unit)
                    .await
                    .map_err(|source| SystemdError::Watch {
                        unit: unit.clone(),
                        source,
                    })?;
        }
        // A unit that stays up after its start job (Type=simple/exec/forking) is followed until
        // it is no longer running.
        while still_running(&state) {
            if follow.changed.changed().await.is_err() {
                return Err(SystemdError::Disconnected { unit });
            }
            state.update(&follow.latest());
        }
        Ok(state.finish(&unit, job_result))
    }
}

/// Reads what the unit's signals would have said, all properties in one round trip.
async fn read_state(bus: &SystemdBus, follow: &Follow, unit: &str) -> zbus::Result<UnitState> {
    let properties = bus.properties(&follow.path).await?;
    let kind = async {
        match &follow.kind {
            Some(interface) => get_string(&properties, interface, "Result").await.map(Some),
            None => Ok(None),
        }
    };
    let exec_main = async {
        if !unit.ends_with(".service") {
            return Ok::<_, zbus::Error>((None, None));
        }
        let (code, status) = tokio::try_join!(
            get(&properties, SERVICE_INTERFACE, "ExecMainCode"),
            get(&properties, SERVICE_INTERFACE, "ExecMainStatus"),
        )?;
        Ok((Some(i32::try_from(code)?), Some(i32::try_from(status)?)))
    };
    let (active, sub, invocation, result, (exec_code, exec_status)) = tokio::try_join!(
        get_string(&properties, UNIT_INTERFACE, "ActiveState"),
        get_string(&properties, UNIT_INTERFACE, "SubState"),
        get(&properties, UNIT_INTERFACE, "InvocationID"),
        kind,
        exec_main,
    )?;
    Ok(UnitState {
        active: Some(active),
        sub: Some(sub),
        invocation: Some(Vec::try_from(invocation)?),
        result,
        exec_code,
        exec_status,
    })
}

/// Whether a unit is still running: `active` (except a oneshot with `RemainAfterExit=yes`, whose
/// main process has exited: `active (exited)`), or changing state.
fn still_running(state: &UnitState) -> bool {
    let sub = state.sub.as_deref().unwrap_or_default();
    match state.active.as_deref().unwrap_or_default() {
        "active" => sub != "exited",
        "activating" | "deactivating" | "reloading" | "refreshing" => true,
        _ => false,
    }
}

/// A unit's state as its `PropertiesChanged` signals announce it (systemd sends every property
/// of the interface in each), or as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct UnitState {
    /// `Unit.ActiveState`, `Unit.SubState`, `Unit.InvocationID`.
    active: Option<String>,
    sub: Option<String>,
    invocation: Option<Vec<u8>>,
    /// `Result` of the type's interface (`Service.Result`, `Socket.Result`, …).
    result: Option<String>,
    /// `Service.ExecMainCode`, `Service.ExecMainStatus`.
    exec_code: Option<i32>,
    exec_status: Option<i32>,
}

impl UnitState {
    /// Takes in one `PropertiesChanged` of `interface`; `kind` is the unit type's interface.
    fn announce(&mut self, interface: &str, kind: Option<&str>, changed: &HashMap<&str, Variant>) {
        let string = |name| {
            changed
                .get(name)
                .and_then(|v| v.downcast_ref::<&str>().ok())
        };
        let int = |name| changed.get(name).and_then(|v| i32::try_from(v).ok());
        if interface == UNIT_INTERFACE {
            self.active = string("ActiveState")
                .map(str::to_owned)
                .or(self.active.take());
            self.sub = string("SubState").map(str::to_owned).or(self.sub.take());
            let invocation = changed
                .get("InvocationID")
                .and_then(|v| v.try_clone().ok())
                .and_then(|v| Vec::<u8>::try_from(v).ok());
            self.invocation = invocation.or(self.invocation.take());
        } else if Some(interface) == kind {
            self.result = string("Result").map(str::to_owned).or(self.result.take());
            if interface == SERVICE_INTERFACE {
                self.exec_code = int("ExecMainCode").or(self.exec_code);
                self.exec_status = int("ExecMainStatus").or(self.exec_status);
            }
        }
    }

    /// Takes the fields `newer` has.
    fn update(&mut self, newer: &UnitState) {
        let newer = newer.clone();
        self.active = newer.active.or(self.active.take());
        self.sub = newer.sub.or(self.sub.take());
        self.invocation = newer.invocation.or(self.invocation.take());
        self.result = newer.result.or(self.result.take());
        self.exec_code = newer.exec_code.or(self.exec_code);
        self.exec_status = newer.exec_status.or(self.exec_status);
    }

    /// Everything [`UnitState::finish`] needs is known; `kind`: the unit type's interface.
    fn is_complete(&self, kind: &Option<String>) -> bool {
        let unit = self.active.is_some() && self.sub.is_some() && self.invocation.is_some();
        let kind = match kind.as_deref() {
            None => true,
            Some(SERVICE_INTERFACE) => {
                self.result.is_some() && self.exec_code.is_some() && self.exec_status.is_some()
            }
            Some(_) => self.result.is_some(),
        };
        unit && kind
    }

    fn finish(self, unit: &str, job_result: String) -> UnitFinish {
        let result = self.result.unwrap_or_else(|| {
            if job_result == "done" {
                "success".to_owned()
            } else {
                job_result.clone()
            }
        });
        // ExecMainCode is a CLD_* code; 0: the main process never ran.
        let exit_status = match (unit.ends_with(".service"), self.exec_code, self.exec_status) {
            (true, Some(code), status) if code != 0 => status,
            _ => None,
        };
        let invocation = self.invocation.unwrap_or_default();
        UnitFinish {
            job_result,
            result,
            active_state: self.active.unwrap_or_else(|| "unknown".to_owned()),
            exit_status,
            invocation_id: (!invocation.is_empty()).then(|| hex(&invocation)),
        }
    }
}

/// What the signal task shares with the watches.
#[derive(Debug, Default)]
struct Signals {
    state: Mutex<SignalState>,
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

    /// Starts keeping `unit`'s announced state, until the returned [`Follow`] is dropped.
    fn follow(self: &Arc<Self>, unit: &str) -> Follow {
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
    fn track(&self, units: &[String]) -> Vec<String> {
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
    fn record_read(&self, unit: &str, active_state: &str) {
        if let Some(tracked) = self.lock().states.get_mut(&unit_object_path(unit)) {
            tracked.read = Some(active_state.to_owned());
        }
    }

    /// Stops keeping the states of `units` (their read failed).
    fn untrack(&self, units: &[String]) {
        let mut state = self.lock();
        for unit in units {
            state.states.remove(&unit_object_path(unit));
        }
    }

    /// `unit`'s `ActiveState` as kept: announced since the read, else read; `None` if unknown.
    fn tracked_state(&self, unit: &str) -> Option<String> {
        let state = self.lock();
        let tracked = state.states.get(&unit_object_path(unit))?;
        tracked.announced.clone().or_else(|| tracked.read.clone())
    }

    /// The result of `job`, once its `JobRemoved` has arrived (or at once if it has already).
    /// Errs (the sender is dropped) when the connection closes first.
    fn job_end(&self, job: &str) -> oneshot::Receiver<String> {
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
    fn receive(&self, msg: &Message) {
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
    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.jobs.clear();
        state.units.clear();
    }
}

/// A unit whose announced state is kept while this lives.
#[derive(Debug)]
struct Follow {
    signals: Arc<Signals>,
    /// The unit's object path.
    path: String,
    /// The unit type's interface, see [`Followed::kind`].
    kind: Option<String>,
    changed: watch::Receiver<UnitState>,
}

impl Follow {
    /// The state announced so far (marked as seen).
    fn latest(&mut self) -> UnitState {
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

/// Tells systemd's signals from signals other clients send straight to us (any client may).
#[derive(Debug)]
struct SenderCheck {
    dbus: DBusProxy<'static>,
    /// The unique name of systemd's connection.
    owner: String,
    /// Senders found not to be systemd: not asked about again.
    strangers: HashSet<String>,
}

impl SenderCheck {
    async fn is_systemd(&mut self, msg: &Message) -> bool {
        let Some(sender) = msg.header().sender().map(|s| s.to_string()) else {
            return false;
        };
        if sender == self.owner {
            return true;
        }
        if self.strangers.contains(&sender) {
            return false;
        }
        // systemd re-executed (and reconnected), or another client sent us a signal.
        let now = match BusName::try_from(SYSTEMD) {
            Ok(name) => self.dbus.get_name_owner(name).await.ok(),
            Err(_) => None,
        };
        if now.is_some_and(|now| now.as_str() == sender) {
            self.owner = sender;
            return true;
        }
        if self.strangers.len() >= 64 {
            self.strangers.clear();
        }
        self.strangers.insert(sender);
        false
    }
}

/// The signal task: see the module doc.
async fn dispatch(mut stream: MessageStream, mut sender_check: SenderCheck, signals: Arc<Signals>) {
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else {
            continue;
        };
        if sender_check.is_systemd(&msg).await {
            signals.receive(&msg);
        }
    }
    signals.close();
}

/// systemd's object path of a unit (`sanoid.service` → `/org/freedesktop/systemd1/unit/
/// sanoid_2eservice`): every byte but ASCII letters, and digits after the first, as `_XX`
/// (systemd's `bus_label_escape`).
fn unit_object_path(unit: &str) -> String {
    let mut path = String::from(UNIT_PATH_PREFIX);
    if unit.is_empty() {
        path.push('_');
    }
    for (i, byte) in unit.bytes().enumerate() {
        if byte.is_ascii_alphabetic() || (i > 0 && byte.is_ascii_digit()) {
            path.push(char::from(byte));
        } else {
            let _ = write!(path, "_{byte:02x}");
        }
    }
    path
}

/// The type-specific interface that has a `Result` property, from the unit's suffix.
fn type_interface(unit: &str) -> Option<String> {
    let kind = match unit.rsplit_once('.')?.1 {
        "service" => "Service",
        "socket" => "Socket",
        "mount" => "Mount",
        "automount" => "Automount",
        "swap" => "Swap",
        "timer" => "Timer",
        "path" => "Path",
        "scope" => "Scope",
        _ => return None,
    };
    Some(format!("org.freedesktop.systemd1.{kind}"))
}

async fn get(
    properties: &PropertiesProxy<'static>,
    interface: &str,
    name: &str,
) -> zbus::Result<OwnedVariant> {
    let interface = InterfaceName::try_from(interface)?;
    Ok(properties.get(interface, name).await?)
}

async fn get_string(
    properties: &PropertiesProxy<'static>,
    interface: &str,
    name: &str,
) -> zbus::Result<String> {
    String::try_from(get(properties, interface, name).await?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active: &str, sub: &str) -> UnitState {
        UnitState {
            active: Some(active.to_owned()),
            sub: Some(sub.to_owned()),
            ..UnitState::default()
        }
    }

    #[test]
    fn still_running_treats_remain_after_exit_as_ended() {
        assert!(still_running(&state("active", "running")));
        assert!(still_running(&state("activating", "start")));
        assert!(still_running(&state("deactivating", "stop-sigterm")));
        assert!(!still_running(&state("active", "exited")));
        assert!(!still_running(&state("inactive", "dead")));
        assert!(!still_running(&state("failed", "failed")));
    }

    #[test]
    fn type_interface_follows_the_unit_suffix() {
        assert_eq!(
            type_interface("sanoid.service").as_deref(),
            Some("org.freedesktop.systemd1.Service")
        );
        assert_eq!(type_interface("backup.target"), None);
    }

    #[test]
    fn hex_formats_invocation_ids() {
        assert_eq!(hex(&[0x0a, 0xff, 0x00]), "0aff00");
    }

    #[test]
    fn unit_object_paths_escape_like_systemd() {
        assert_eq!(
            unit_object_path("sanoid.service"),
            "/org/freedesktop/systemd1/unit/sanoid_2eservice"
        );
        assert_eq!(
            unit_object_path("syncoid-tank-services-home-assistant.service"),
            "/org/freedesktop/systemd1/unit/syncoid_2dtank_2dservices_2dhome_2dassistant_2eservice"
        );
        assert_eq!(
            unit_object_path("2fa@user_1.service"),
            "/org/freedesktop/systemd1/unit/_32fa_40user_5f1_2eservice"
        );
        assert_eq!(
            unit_object_path(r"mnt-nas\x2dbackup.mount"),
            "/org/freedesktop/systemd1/unit/mnt_2dnas_5cx2dbackup_2emount"
        );
    }

    #[test]
    fn a_service_s_signals_give_its_whole_end() {
        let kind = type_interface("x.service");
        let mut unit = UnitState::default();
        let service: HashMap<&str, Variant> = [
            ("Result", Variant::from("exit-code")),
            ("ExecMainCode", Variant::from(1_i32)),
            ("ExecMainStatus", Variant::from(3_i32)),
            ("MainPID", Variant::from(0_u32)),
        ]
        .into();
        unit.announce(SERVICE_INTERFACE, kind.as_deref(), &service);
        assert!(!unit.is_complete(&kind));
        let common: HashMap<&str, Variant> = [
            ("ActiveState", Variant::from("failed")),
            ("SubState", Variant::from("failed")),
            ("InvocationID", Variant::from(vec![0xab_u8, 0x01])),
        ]
        .into();
        unit.announce(UNIT_INTERFACE, kind.as_deref(), &common);
        assert!(unit.is_complete(&kind));
        assert!(!still_running(&unit));
        assert_eq!(
            unit.finish("x.service", "failed".to_owned()),
            UnitFinish {
                job_result: "failed".to_owned(),
                result: "exit-code".to_owned(),
                active_state: "failed".to_owned(),
                exit_status: Some(3),
                invocation_id: Some("ab01".to_owned()),
            }
        );
    }

    #[test]
    fn a_target_needs_only_its_unit_signals_and_takes_the_job_result() {
        let kind = type_interface("x.target");
        let mut unit = UnitState::default();
        let common: HashMap<&str, Variant> = [
            ("ActiveState", Variant::from("active")),
            ("SubState", Variant::from("active")),
            ("InvocationID", Variant::from(Vec::<u8>::new())),
        ]
        .into();
        unit.announce(UNIT_INTERFACE, kind.as_deref(), &common);
        assert!(unit.is_complete(&kind));
        let finish = unit.finish("x.target", "dependency".to_owned());
        assert_eq!(finish.result, "dependency");
        assert_eq!((finish.exit_status, finish.invocation_id), (None, None));
    }

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
