//! The calls for a transient unit (the run unit, see `crate::runs`): create and start it, look it
//! up, read the state it is in, signal its main process, clear its failure; and a unit's last
//! invocation (for `logs`). Each answers with the raw D-Bus result (each call bounded in time, see
//! `deadline.rs`), systemd's "no such unit" answers already told apart: the caller names what it
//! was doing.

use zbus::proxy::CacheProperties;
use zbus::{OwnedObjectPath, Variant};

use super::connection::SystemdConnection;
use super::deadline::{BusError, bounded};
use super::proxies::UnitProxy;
use super::unit_state::hex;

const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// A `Type=exec` service that runs one command line, for [`SystemdConnection::start_transient`].
#[derive(Clone, Debug)]
pub struct TransientService<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub syslog_identifier: &'a str,
    /// The program's path and its whole argv (`argv[0]` included).
    pub exe: &'a str,
    pub argv: Vec<String>,
    /// How long `systemctl stop` (or shutdown) waits after SIGTERM before SIGKILL, in µs.
    pub stop_timeout_usec: u64,
}

/// What [`SystemdConnection::start_transient`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransientStart {
    /// The start job is queued.
    Started,
    /// A unit of that name is loaded: nothing was started.
    Exists,
}

/// A loaded unit as read now, see [`SystemdConnection::unit_snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitSnapshot {
    pub description: String,
    /// systemd's `ActiveState` (see [`super::active_state`]).
    pub active_state: String,
    /// A job (a start job, for a unit being started) is still queued for it.
    pub job_queued: bool,
}

impl SystemdConnection {
    /// Creates and starts `service` (job mode `fail`); systemd forgets it when it ends well, and
    /// keeps it `failed` after a failure (`CollectMode=inactive`), for `systemctl --failed`,
    /// `OnFailure=` and node_exporter's systemd collector, until the next start clears it.
    pub async fn start_transient(
        &self,
        service: &TransientService<'_>,
    ) -> Result<TransientStart, BusError> {
        let properties = [
            ("Description", Variant::from(service.description)),
            ("Type", Variant::from("exec")),
            ("CollectMode", Variant::from("inactive")),
            ("SyslogIdentifier", Variant::from(service.syslog_identifier)),
            ("TimeoutStopUSec", Variant::from(service.stop_timeout_usec)),
            (
                "ExecStart",
                Variant::from(vec![(service.exe.to_owned(), service.argv.clone(), false)]),
            ),
        ];
        let start = self
            .manager
            .start_transient_unit(service.name, "fail", &properties, &[]);
        match bounded("StartTransientUnit", start).await {
            Ok(_job) => Ok(TransientStart::Started),
            Err(e) if e.is_reply(UNIT_EXISTS) => Ok(TransientStart::Exists),
            Err(e) => Err(e),
        }
    }

    /// The object path of `unit`, `None` when it is not loaded.
    pub async fn loaded_unit(&self, unit: &str) -> Result<Option<OwnedObjectPath>, BusError> {
        match bounded("GetUnit", self.manager.get_unit(unit)).await {
            Ok(path) => Ok(Some(path)),
            Err(e) if e.is_reply(NO_SUCH_UNIT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The unit at `path` as it is now; `None` when it was collected in the meantime.
    pub async fn unit_snapshot(
        &self,
        path: OwnedObjectPath,
    ) -> Result<Option<UnitSnapshot>, BusError> {
        bounded(
            "Get(run unit properties)",
            self.unit_snapshot_unbounded(path),
        )
        .await
    }

    async fn unit_snapshot_unbounded(
        &self,
        path: OwnedObjectPath,
    ) -> zbus::Result<Option<UnitSnapshot>> {
        let unit = UnitProxy::builder(&self.conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        // The unit may be collected between the calls: treat that as "no unit".
        // The job is read before the state: systemd removes the start job only once the unit has
        // started, so a state read after "no job" is at least as new as the job's end. In the other
        // order, a unit starting between the reads looked dead: "inactive" (before its process was
        // spawned), then "no job" (after).
        let (description, job) = tokio::join!(unit.description(), unit.job());
        let description = match description {
            Ok(d) => d,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let job_queued = match job {
            Ok((id, _)) => id != 0,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(_) => false,
        };
        let active_state = match unit.active_state().await {
            Ok(s) => s,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(UnitSnapshot {
            description,
            active_state,
            job_queued,
        }))
    }

    /// The `InvocationID` of `unit`'s current or last activation, as 32 hex digits; `None` when the
    /// unit is not loaded or has not been activated since it was.
    pub async fn last_invocation(&self, unit: &str) -> Result<Option<String>, BusError> {
        let Some(path) = self.loaded_unit(unit).await? else {
            return Ok(None);
        };
        let unit = UnitProxy::builder(&self.conn)
            .path(path)
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        match bounded("Get InvocationID", unit.invocation_id()).await {
            Ok(id) if id.is_empty() => Ok(None),
            Ok(id) => Ok(Some(hex(&id))),
            Err(BusError::Call(e)) if is_gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends `signal` to `unit`'s main process; `false` when the unit is gone.
    pub async fn kill_main(&self, unit: &str, signal: i32) -> Result<bool, BusError> {
        match bounded("KillUnit", self.manager.kill_unit(unit, "main", signal)).await {
            Ok(()) => Ok(true),
            Err(BusError::Call(e)) if is_gone(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Clears `unit`'s `failed` state, so that systemd collects it.
    pub async fn reset_failed(&self, unit: &str) -> Result<(), BusError> {
        bounded("ResetFailedUnit", self.manager.reset_failed_unit(unit)).await
    }
}

fn is_error(e: &zbus::Error, name: &str) -> bool {
    matches!(e, zbus::Error::MethodError(n, _, _) if n.as_str() == name)
}

/// The unit went away under us (collected after it ended).
fn is_gone(e: &zbus::Error) -> bool {
    is_error(e, NO_SUCH_UNIT)
        || matches!(e, zbus::Error::MethodError(n, _, _)
            if n.as_str() == "org.freedesktop.DBus.Error.UnknownObject"
                || n.as_str() == "org.freedesktop.DBus.Error.UnknownMethod")
        || matches!(e, zbus::Error::FDO(fdo) if matches!(**fdo,
            zbus::fdo::Error::UnknownObject(_) | zbus::fdo::Error::UnknownMethod(_)))
}
