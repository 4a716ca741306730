//! [`SystemdBus`]: the [`Systemd`] trait over one system-bus connection to PID 1.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::OnceCell;
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::proxy::CacheProperties;
use zbus::{Connection, OwnedObjectPath, OwnedVariant};

use super::proxies::{JobRemovedStream, ManagerProxy};
use super::{Systemd, SystemdError, UnitFinish, UnitWatch, unit_files};
use crate::plan::pattern;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";

/// systemd's manager on the system bus. Cheap to clone (one shared connection).
#[derive(Clone, Debug)]
pub struct SystemdBus {
    conn: Connection,
    manager: ManagerProxy<'static>,
    /// systemd's unit search path (`Manager.UnitPath`), read at the first discovery with globs.
    unit_path: Arc<OnceCell<Vec<PathBuf>>>,
}

impl SystemdBus {
    /// Connects to the system bus and subscribes to systemd's signals.
    pub async fn connect() -> Result<SystemdBus, SystemdError> {
        let conn = Connection::system()
            .await
            .map_err(|source| SystemdError::Connect { source })?;
        SystemdBus::with_connection(conn).await
    }

    /// Uses an existing connection to a bus where systemd runs (the system bus).
    pub async fn with_connection(conn: Connection) -> Result<SystemdBus, SystemdError> {
        // Uncached: a cached proxy would fetch every Manager property at the first property read.
        let manager = ManagerProxy::builder(&conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|source| SystemdError::Connect { source })?;
        manager
            .subscribe()
            .await
            .map_err(|source| SystemdError::Subscribe { source })?;
        Ok(SystemdBus {
            conn,
            manager,
            unit_path: Arc::default(),
        })
    }

    /// The connection, for other users of the bus in the agent (one connection per process).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// `org.freedesktop.DBus.Properties` of a unit object, uncached: every read asks systemd.
    async fn properties(&self, path: OwnedObjectPath) -> zbus::Result<PropertiesProxy<'static>> {
        PropertiesProxy::builder(&self.conn)
            .destination(SYSTEMD)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await
    }

    async fn unit_path(&self) -> zbus::Result<&[PathBuf]> {
        let dirs = self
            .unit_path
            .get_or_try_init(|| async {
                let dirs = self.manager.unit_path().await?;
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
            self.manager.list_units_by_patterns(&[], &globs),
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

    async fn active_state(&self, unit: &str) -> Result<String, SystemdError> {
        let state = async {
            let path = self.manager.load_unit(unit).await?;
            let properties = self.properties(path).await?;
            get_string(&properties, UNIT_INTERFACE, "ActiveState").await
        };
        state.await.map_err(|source| SystemdError::State {
            unit: unit.to_owned(),
            source,
        })
    }

    async fn start_and_watch(&self, unit: &str) -> Result<BusWatch, SystemdError> {
        let start_error = |source| SystemdError::Start {
            unit: unit.to_owned(),
            source,
        };
        // The JobRemoved match must be in place before StartUnit (a fast job's signal is sent
        // once). The unit is pinned so its properties survive its end; pinning is best effort.
        let unit_filter = [(2, unit)];
        let (jobs, pinned, path) = tokio::join!(
            self.manager.receive_job_removed_with_args(&unit_filter),
            self.manager.ref_unit(unit),
            self.manager.load_unit(unit),
        );
        let pinned = pinned.is_ok();
        let prepared = jobs.and_then(|jobs| path.map(|path| (jobs, path)));
        let started = match prepared {
            Ok((jobs, path)) => self
                .manager
                .start_unit(unit, "replace")
                .await
                .map(|job| (jobs, path, job)),
            Err(e) => Err(e),
        };
        match started {
            Ok((jobs, path, job)) => Ok(BusWatch {
                bus: self.clone(),
                unit: unit.to_owned(),
                path,
                job,
                jobs,
                pinned,
            }),
            Err(source) => {
                if pinned {
                    let _ = self.manager.unref_unit(unit).await;
                }
                Err(start_error(source))
            }
        }
    }

    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        self.manager
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
    path: OwnedObjectPath,
    job: OwnedObjectPath,
    jobs: JobRemovedStream,
    pinned: bool,
}

impl UnitWatch for BusWatch {
    async fn finished(self) -> Result<UnitFinish, SystemdError> {
        let BusWatch {
            bus,
            unit,
            path,
            job,
            mut jobs,
            pinned,
        } = self;
        let watch_error = |source| SystemdError::Watch {
            unit: unit.clone(),
            source,
        };
        let job_result = loop {
            let Some(signal) = jobs.next().await else {
                return Err(SystemdError::Disconnected { unit });
            };
            let args = signal.args().map_err(watch_error)?;
            // Other jobs of the same unit (a stop, a timer's start) are not ours.
            if args.job == *job {
                break args.result.to_owned();
            }
        };
        drop(jobs);
        let properties = bus.properties(path).await.map_err(watch_error)?;
        wait_until_ended(&properties, &unit)
            .await
            .map_err(watch_error)?;
        let finish = read_finish(&properties, &unit, job_result)
            .await
            .map_err(watch_error);
        if pinned {
            let _ = bus.manager.unref_unit(&unit).await;
        }
        finish
    }
}

/// Whether a unit is still running after its start job: `active` (except a oneshot with
/// `RemainAfterExit=yes`, whose main process has exited: `active (exited)`), or changing state.
fn still_running(active_state: &str, sub_state: &str) -> bool {
    match active_state {
        "active" => sub_state != "exited",
        "activating" | "deactivating" | "reloading" | "refreshing" => true,
        _ => false,
    }
}

/// For a unit that stays up after its start job (`Type=simple`/`exec`/`forking`): follows its
/// `PropertiesChanged` signals until it is no longer running.
async fn wait_until_ended(properties: &PropertiesProxy<'static>, unit: &str) -> zbus::Result<()> {
    let read_state = || async {
        tokio::try_join!(
            get_string(properties, UNIT_INTERFACE, "ActiveState"),
            get_string(properties, UNIT_INTERFACE, "SubState"),
        )
    };
    let (active, sub) = read_state().await?;
    if !still_running(&active, &sub) {
        return Ok(());
    }
    let mut changes = properties
        .receive_properties_changed_with_args(&[(0, UNIT_INTERFACE)])
        .await?;
    // Read again now that the match is in place: the unit may have ended in between.
    let (mut active, mut sub) = read_state().await?;
    while still_running(&active, &sub) {
        let Some(signal) = changes.next().await else {
            return Err(zbus::Error::Failure(format!(
                "the system bus connection closed while following {unit}"
            )));
        };
        let args = signal.args()?;
        let changed = args.changed_properties();
        match (changed.get("ActiveState"), changed.get("SubState")) {
            (Some(a), Some(s)) => {
                active = a.downcast_ref::<&str>()?.to_owned();
                sub = s.downcast_ref::<&str>()?.to_owned();
            }
            _ => (active, sub) = read_state().await?,
        }
    }
    Ok(())
}

/// Reads how the unit ended, all properties at once.
async fn read_finish(
    properties: &PropertiesProxy<'static>,
    unit: &str,
    job_result: String,
) -> zbus::Result<UnitFinish> {
    let type_interface = type_interface(unit);
    let is_service = unit.ends_with(".service");
    let result = async {
        match &type_interface {
            Some(interface) => get_string(properties, interface, "Result").await.map(Some),
            None => Ok(None),
        }
    };
    let exec_main = async {
        if !is_service {
            return Ok(None);
        }
        let (code, status) = tokio::try_join!(
            get(properties, SERVICE_INTERFACE, "ExecMainCode"),
            get(properties, SERVICE_INTERFACE, "ExecMainStatus"),
        )?;
        let code = i32::try_from(code)?;
        let status = i32::try_from(status)?;
        // ExecMainCode is a CLD_* code; 0: the main process never ran.
        Ok::<_, zbus::Error>((code != 0).then_some(status))
    };
    let (active_state, invocation, result, exit_status) = tokio::try_join!(
        get_string(properties, UNIT_INTERFACE, "ActiveState"),
        get(properties, UNIT_INTERFACE, "InvocationID"),
        result,
        exec_main,
    )?;
    let invocation: Vec<u8> = Vec::try_from(invocation)?;
    let result = result.unwrap_or_else(|| {
        if job_result == "done" {
            "success".to_owned()
        } else {
            job_result.clone()
        }
    });
    Ok(UnitFinish {
        job_result,
        result,
        active_state,
        exit_status,
        invocation_id: (!invocation.is_empty()).then(|| hex(&invocation)),
    })
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

    #[test]
    fn still_running_treats_remain_after_exit_as_ended() {
        assert!(still_running("active", "running"));
        assert!(still_running("activating", "start"));
        assert!(still_running("deactivating", "stop-sigterm"));
        assert!(!still_running("active", "exited"));
        assert!(!still_running("inactive", "dead"));
        assert!(!still_running("failed", "failed"));
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
}
