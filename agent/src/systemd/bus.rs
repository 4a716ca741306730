//! [`SystemdBus`]: the [`Systemd`] trait over one system-bus connection to PID 1.
//!
//! systemd is single-threaded and on every unit's critical path: each call it answers delays every
//! other, so this asks it as little as possible. What one run puts on the bus:
//!
//! ```text
//!  connect        AddMatch(every signal systemd sends) ∥ AddMatch(NameOwnerChanged of its
//!                 name) ∥ Subscribe, then GetNameOwner                        (bus, once)
//!  discovery      Get Manager.UnitPath (once), then per stage with globs: read_dir of those
//!                 directories ∥ ListUnitsByPatterns(globs)                  (see unit_files.rs)
//!  skip check     ListUnitsByPatterns(names) of a stage's units once they are discovered (while
//!                 the previous stage runs), then kept current from their PropertiesChanged: at
//!                 each unit's turn its state is known without asking
//!  each unit      StartUnit; its end arrives as signals: the unit's PropertiesChanged (state,
//!                 Result, ExecMainCode/Status, InvocationID), then its JobRemoved
//! ```
//!
//! Every call is bounded in time (`deadline.rs`). The signal task is in `signal_task.rs`, what it
//! keeps in `signals.rs`; a unit's state and how it becomes a
//! [`UnitFinish`], in `unit_state.rs`. This file has the calls.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use backup_orchestrator_proto::summary::JOURNAL_LINES;
use tokio::sync::{OnceCell, oneshot};
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::proxy::CacheProperties;
use zbus::{ObjectPath, OwnedVariant};

use super::api::{Systemd, SystemdError, UnitFinish, UnitWatch};
use super::connection::SystemdConnection;
use super::deadline::{BusError, bounded};
use super::names::{SERVICE_INTERFACE, SYSTEMD, UNIT_INTERFACE};
use super::proxies::ManagerProxy;
use super::signal_task::{self, AbortOnDrop};
use super::signals::{Follow, Signals};
use super::unit_files;
use super::unit_journal::invocation_journal;
use super::unit_state::{UnitState, still_running};
use crate::plan::pattern;
use backup_orchestrator_render::error_chain;

/// systemd's manager on the system bus, with its signals followed. Cheap to clone (one shared
/// connection and signal task).
#[derive(Clone, Debug)]
pub struct SystemdBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connection: SystemdConnection,
    signals: Arc<Signals>,
    /// systemd's unit search path (`Manager.UnitPath`), read at the first discovery with globs.
    unit_path: OnceCell<Vec<PathBuf>>,
    /// The signal task, stopped with the last clone.
    _dispatcher: AbortOnDrop,
}

impl SystemdBus {
    /// Subscribes to systemd's signals on the process's connection and starts the signal task (on
    /// the current tokio runtime).
    pub async fn new(connection: &SystemdConnection) -> Result<SystemdBus, SystemdError> {
        let (signals, dispatcher) =
            signal_task::start(&connection.conn, &connection.manager).await?;
        Ok(SystemdBus {
            inner: Arc::new(Inner {
                connection: connection.clone(),
                signals,
                unit_path: OnceCell::new(),
                _dispatcher: dispatcher,
            }),
        })
    }

    /// Signals other clients than systemd sent this connection, dropped unread (see
    /// `sender_check.rs`): a number worth a warning when it is large.
    pub fn foreign_signals(&self) -> u64 {
        self.inner.signals.foreign()
    }

    fn manager(&self) -> &ManagerProxy<'static> {
        &self.inner.connection.manager
    }

    /// `org.freedesktop.DBus.Properties` of a unit object, uncached: every read asks systemd.
    async fn properties(&self, path: &str) -> zbus::Result<PropertiesProxy<'static>> {
        PropertiesProxy::builder(&self.inner.connection.conn)
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
        let listed = match bounded(
            "ListUnitsByPatterns",
            self.manager().list_units_by_patterns(&[], &names),
        )
        .await
        {
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

    async fn unit_path(&self) -> Result<&[PathBuf], BusError> {
        let dirs = self
            .inner
            .unit_path
            .get_or_try_init(|| async {
                let dirs = bounded("Get(UnitPath)", self.manager().unit_path()).await?;
                Ok::<_, BusError>(dirs.into_iter().map(PathBuf::from).collect())
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
            bounded(
                "ListUnitsByPatterns",
                self.manager().list_units_by_patterns(&[], &globs),
            ),
        )
        .map_err(discover_error)?;
        let files = unit_files::matching(dirs, &globs)
            .map_err(|e| discover_error(zbus::Error::InputOutput(Arc::new(e)).into()))?;
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
        let job = bounded("StartUnit", self.manager().start_unit(unit, "replace"))
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
        bounded("StopUnit", self.manager().stop_unit(unit, "replace"))
            .await
            .map(|_job| ())
            .map_err(|source| SystemdError::Stop {
                unit: unit.to_owned(),
                source,
            })
    }

    async fn failure_journal(&self, invocation_id: &str) -> Vec<String> {
        match invocation_journal(invocation_id, JOURNAL_LINES).await {
            Ok(lines) => lines,
            Err(e) => {
                tracing::warn!(
                    "could not read the journal of invocation {invocation_id}: {}",
                    error_chain(&e)
                );
                Vec::new()
            }
        }
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
async fn read_state(bus: &SystemdBus, follow: &Follow, unit: &str) -> Result<UnitState, BusError> {
    bounded(
        "Get(unit properties)",
        read_state_unbounded(bus, follow, unit),
    )
    .await
}

async fn read_state_unbounded(
    bus: &SystemdBus,
    follow: &Follow,
    unit: &str,
) -> zbus::Result<UnitState> {
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
