//! Runs owned by PID 1: [`RunUnit`] starts a run as the transient unit [`RUN_UNIT`] and answers
//! whether it is still going.
//!
//! A backup run must not depend on the terminal or the SSH session that asked for it (architecture
//! property 2). So neither the CLI nor `serve` runs the plan: they ask systemd over D-Bus
//! (`Manager.StartTransientUnit`) to run `backup-orchestrator run-owned --run-id ID …` as a unit of
//! its own, then only follow the run's event log ([`crate::runlog`]). Killing the follower (Ctrl-C,
//! SIGKILL, a dropped connection) leaves the unit running to completion.
//!
//! The unit's fixed name is the host's run lock: systemd refuses a second `StartTransientUnit` of a
//! loaded unit with `UnitExists`, atomically. A run that ends well is forgotten at once
//! (`CollectMode=inactive`); one that ends failed (its process exits with the run's verdict, 1 or
//! 2, or crashed) stays loaded and `failed`, for `systemctl --failed` and `OnFailure=`, and the next
//! start clears it (`ResetFailedUnit`) and retries: a failed unit is never a held lock. The unit's
//! description carries the run id, which is how a refused starter, `attach` and `status` learn which
//! run holds the lock.
//!
//! `cancel` signals the unit's main process (`Manager.KillUnit`): SIGUSR1 = start no more units,
//! SIGUSR2 = also stop the running ones.

use std::path::Path;

use crate::runlog;
use crate::systemd::{
    BusError, SystemdConnection, SystemdError, TransientService, TransientStart, active_state,
};
use backup_orchestrator_render::error_chain;

/// The transient unit every run executes in; its existence is the host's run lock.
pub const RUN_UNIT: &str = "backup-orchestrator-run.service";

/// How long systemd waits for the run to exit after SIGTERM (`systemctl stop`, shutdown) before
/// it kills it. The run writes its summary at once on SIGTERM (see `owned.rs`) and leaves its
/// units running, so it needs well under a second; the rest is room for a slow disk.
const STOP_TIMEOUT_USEC: u64 = 10_000_000;

const DESCRIPTION_PREFIX: &str = "backup-orchestrator run ";

/// The run holding the lock, as systemd describes its unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveRun {
    /// `None` only if something else created a unit of that name.
    pub run_id: Option<String>,
    /// RFC 3339, from the run id.
    pub started_at: Option<String>,
    /// systemd's `ActiveState` (`activating`, `active`, `deactivating`, …).
    pub active_state: String,
    /// A start job is still queued (the unit is about to run).
    pub job_queued: bool,
}

impl ActiveRun {
    /// Whether the unit's process runs or is about to: a start job is queued, or its state is
    /// alive ([`active_state::is_alive`]: a deactivating run may still write its last events).
    pub fn is_alive(&self) -> bool {
        self.job_queued || active_state::is_alive(&self.active_state)
    }

    /// `run 20251103T120000Z-ab12 (started 2025-11-03T12:00:00Z)`, for messages.
    pub fn describe(&self) -> String {
        match (&self.run_id, &self.started_at) {
            (Some(id), Some(at)) => format!("run {id} (started {at})"),
            (Some(id), None) => format!("run {id}"),
            _ => format!("unit {RUN_UNIT}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error(transparent)]
    Connect(#[from] SystemdError),
    #[error("another backup run is in progress on this host: {}", active.describe())]
    InProgress { active: ActiveRun },
    #[error("ask systemd to start the run (cannot find this program's path)")]
    ProgramPath(#[source] std::io::Error),
    #[error("ask systemd to {action}")]
    Bus {
        action: &'static str,
        #[source]
        source: BusError,
    },
}

/// What `run-owned` is started with besides its run id.
#[derive(Clone, Debug, Default)]
pub struct OwnedRunArgs<'a> {
    /// The plan file the starter checked; `None` for the built-in default.
    pub plan: Option<&'a Path>,
    pub stop_units_on_timeout: bool,
}

/// The run unit in systemd: starting it, finding it and signalling it.
#[derive(Clone, Debug)]
pub struct RunUnit {
    connection: SystemdConnection,
}

impl RunUnit {
    pub fn new(connection: SystemdConnection) -> RunUnit {
        RunUnit { connection }
    }

    /// The connection it uses (the process's one).
    pub fn connection(&self) -> &SystemdConnection {
        &self.connection
    }

    /// Starts `run-owned` for `run_id` as [`RUN_UNIT`], or says which run already holds the lock.
    pub async fn start(&self, run_id: &str, args: &OwnedRunArgs<'_>) -> Result<(), OwnershipError> {
        let exe = std::env::current_exe()
            .map_err(OwnershipError::ProgramPath)?
            .to_string_lossy()
            .into_owned();
        let description = format!("{DESCRIPTION_PREFIX}{run_id}");
        let service = TransientService {
            name: RUN_UNIT,
            description: &description,
            syslog_identifier: "backup-orchestrator",
            exe: &exe,
            argv: owned_argv(&exe, run_id, args),
            stop_timeout_usec: STOP_TIMEOUT_USEC,
        };
        for attempt in 0..2 {
            match self.connection.start_transient(&service).await {
                Ok(TransientStart::Started) => return Ok(()),
                Ok(TransientStart::Exists) => {
                    let Some(active) = self.active_run().await? else {
                        continue; // collected in between: try again
                    };
                    if attempt == 0 && active.active_state == "failed" && !active.job_queued {
                        // The last run failed and its unit stays failed until now: clear it once.
                        let _ = self.connection.reset_failed(RUN_UNIT).await;
                        continue;
                    }
                    return Err(OwnershipError::InProgress { active });
                }
                Err(source) => {
                    return Err(OwnershipError::Bus {
                        action: "start the run unit",
                        source,
                    });
                }
            }
        }
        Err(OwnershipError::InProgress {
            active: self.active_run().await?.unwrap_or(ActiveRun {
                run_id: None,
                started_at: None,
                active_state: "unknown".into(),
                job_queued: false,
            }),
        })
    }

    /// The run unit as systemd sees it now, `None` if there is none.
    pub async fn active_run(&self) -> Result<Option<ActiveRun>, OwnershipError> {
        let path = match self.connection.loaded_unit(RUN_UNIT).await {
            Ok(Some(path)) => path,
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(OwnershipError::Bus {
                    action: "look up the run unit",
                    source,
                });
            }
        };
        let Some(unit) = self
            .connection
            .unit_snapshot(path)
            .await
            .map_err(|source| OwnershipError::Bus {
                action: "read the run unit's properties",
                source,
            })?
        else {
            return Ok(None);
        };
        let run_id = unit
            .description
            .strip_prefix(DESCRIPTION_PREFIX)
            .map(str::trim)
            .filter(|id| runlog::is_run_id(id))
            .map(str::to_owned);
        Ok(Some(ActiveRun {
            started_at: run_id.as_deref().and_then(runlog::started_at_of),
            run_id,
            active_state: unit.active_state,
            job_queued: unit.job_queued,
        }))
    }

    /// The id of the run whose process is alive now, if any.
    pub async fn running_id(&self) -> Result<Option<String>, OwnershipError> {
        Ok(self
            .active_run()
            .await?
            .filter(ActiveRun::is_alive)
            .and_then(|run| run.run_id))
    }

    /// Sends `signal` to the running run's main process; returns the run signalled, `None` when no
    /// run is going.
    pub async fn signal(&self, signal: i32) -> Result<Option<ActiveRun>, OwnershipError> {
        let Some(active) = self.active_run().await?.filter(ActiveRun::is_alive) else {
            return Ok(None);
        };
        match self.connection.kill_main(RUN_UNIT, signal).await {
            Ok(true) => Ok(Some(active)),
            Ok(false) => Ok(None),
            Err(source) => Err(OwnershipError::Bus {
                action: "signal the run",
                source,
            }),
        }
    }
}

impl runlog::Liveness for RunUnit {
    async fn is_running(&mut self, run_id: &str) -> Result<bool, String> {
        match self.active_run().await {
            Ok(Some(active)) => Ok(active.is_alive() && active.run_id.as_deref() == Some(run_id)),
            Ok(None) => Ok(false),
            Err(e) => Err(error_chain(&e)),
        }
    }
}

/// Whether this process runs inside [`RUN_UNIT`], as `run-owned` must: only the starter, through
/// systemd, may run a plan as root without a terminal between. Told by the process's cgroup
/// (`/proc/self/cgroup`), which only PID 1 and root can set: a user allowed `sudo
/// backup-orchestrator …` gets the cgroup of their session, whatever they put in the environment
/// (`INVOCATION_ID` would be forgeable where sudo keeps the environment).
pub fn in_run_unit() -> std::io::Result<bool> {
    Ok(cgroup_is_run_unit(&std::fs::read_to_string(
        "/proc/self/cgroup",
    )?))
}

/// `0::/system.slice/backup-orchestrator-run.service` (cgroup v2), or the `name=systemd` line of
/// a v1 hierarchy, ends in [`RUN_UNIT`].
fn cgroup_is_run_unit(cgroup: &str) -> bool {
    cgroup.lines().any(|line| {
        let mut fields = line.splitn(3, ':');
        let (_id, controllers, path) = (fields.next(), fields.next(), fields.next());
        matches!(controllers, Some("" | "name=systemd"))
            && path.and_then(|p| p.rsplit('/').next()) == Some(RUN_UNIT)
    })
}

/// `[exe, "run-owned", "--run-id", ID, ("--plan", FILE), ("--stop-units-on-timeout")]`.
fn owned_argv(exe: &str, run_id: &str, args: &OwnedRunArgs<'_>) -> Vec<String> {
    let mut argv = vec![
        exe.to_owned(),
        "run-owned".to_owned(),
        "--run-id".to_owned(),
        run_id.to_owned(),
    ];
    if let Some(plan) = args.plan {
        argv.push("--plan".to_owned());
        argv.push(plan.to_string_lossy().into_owned());
    }
    if args.stop_units_on_timeout {
        argv.push("--stop-units-on-timeout".to_owned());
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_argv_passes_the_checked_plan_and_options() {
        let argv = owned_argv(
            "/usr/bin/backup-orchestrator",
            "20251103T120000Z-ab12",
            &OwnedRunArgs {
                plan: Some(Path::new("/etc/backup-orchestrator/plan.toml")),
                stop_units_on_timeout: true,
            },
        );
        assert_eq!(
            argv,
            [
                "/usr/bin/backup-orchestrator",
                "run-owned",
                "--run-id",
                "20251103T120000Z-ab12",
                "--plan",
                "/etc/backup-orchestrator/plan.toml",
                "--stop-units-on-timeout"
            ]
        );
        let plain = owned_argv("x", "20251103T120000Z-ab12", &OwnedRunArgs::default());
        assert_eq!(
            plain,
            ["x", "run-owned", "--run-id", "20251103T120000Z-ab12"]
        );
    }

    #[test]
    fn only_the_run_units_own_cgroup_counts_as_inside_it() {
        assert!(cgroup_is_run_unit(
            "0::/system.slice/backup-orchestrator-run.service\n"
        ));
        assert!(cgroup_is_run_unit(
            "12:pids:/\n1:name=systemd:/system.slice/backup-orchestrator-run.service\n0::/\n"
        ));
        for other in [
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "0::/system.slice/backup-orchestrator-run.service/x\n",
            "0::/system.slice/evil-backup-orchestrator-run.service\n",
            "4:memory:/system.slice/backup-orchestrator-run.service\n0::/\n",
            "",
        ] {
            assert!(!cgroup_is_run_unit(other), "{other}");
        }
    }

    #[test]
    fn active_run_is_alive_while_running_or_about_to() {
        let run = |state: &str, job_queued| ActiveRun {
            run_id: Some("20251103T120000Z-ab12".into()),
            started_at: None,
            active_state: state.into(),
            job_queued,
        };
        assert!(run("active", false).is_alive());
        assert!(run("deactivating", false).is_alive());
        assert!(run("inactive", true).is_alive());
        assert!(!run("inactive", false).is_alive());
        assert!(!run("failed", false).is_alive());
    }
}
