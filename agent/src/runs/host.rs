//! [`Host`]: the run operations the CLI and `serve` share: start a run as the transient unit,
//! find the run to follow, report status, cancel.

use backup_orchestrator_proto::{Event, RunState, StatusReport};
use backup_orchestrator_render::log_incomplete_text;
use tokio::signal::unix::SignalKind;

use super::status::status_report;
use super::unit::{ActiveRun, OwnedRunArgs, OwnershipError, RunUnit};
use crate::identity::hostname;
use crate::plan::Plan;
use crate::runlog::{self, FollowTimings, Follower, Layout, LogFollowError, RunLogError};
use crate::systemd::{SystemdBus, SystemdConnection, SystemdError};
use backup_orchestrator_render::error_chain;

/// Why `status` could not be told.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("read the event log of run {run_id}")]
    Log {
        run_id: String,
        #[source]
        source: RunLogError,
    },
}

/// The running or last run, and what its log is missing.
#[derive(Debug)]
pub struct HostStatus {
    pub report: StatusReport,
    /// `event log incomplete on HOST: …` when events are missing from the log (a full disk) or it
    /// is damaged; the report then counts only what the log holds.
    pub log_incomplete: Option<String>,
}

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
    /// Connects to systemd: the process's one connection, see [`SystemdConnection`].
    pub async fn connect() -> Result<Host, OwnershipError> {
        let connection = SystemdConnection::connect().await?;
        Ok(Host {
            layout: Layout::system(),
            unit: RunUnit::new(connection),
        })
    }

    /// The engine's view of systemd, on this host's connection (for a dry run here).
    pub async fn systemd(&self) -> Result<SystemdBus, SystemdError> {
        SystemdBus::new(self.unit.connection()).await
    }

    /// Starts a run of `plan` (already checked) owned by PID 1 and returns its id. The run's log
    /// exists when this returns, so a follower can open it at once.
    pub async fn start(
        &self,
        plan: &Plan,
        stop_units_on_timeout: bool,
    ) -> Result<String, StartError> {
        // A new id for a collision (two runs in one second with the same random suffix): the
        // directory is created exclusively, so a live run's log is never reused.
        let mut attempt = 0;
        let run_id = loop {
            let run_id = runlog::new_run_id(std::time::SystemTime::now());
            match self.layout.prepare(&run_id) {
                Ok(_) => break run_id,
                Err(RunLogError::RunExists { .. }) if attempt < 8 => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        };
        let args = OwnedRunArgs {
            plan: plan.file(),
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

    /// The running or last run. A log that cannot be read is an error, never an empty report.
    pub async fn status(&self) -> Result<HostStatus, StatusError> {
        let running = self.unit.running_id().await?;
        let Some(run_id) = running.clone().or_else(|| self.layout.last_run()) else {
            return Ok(HostStatus {
                report: StatusReport {
                    state: RunState::None,
                    run_id: None,
                    started_at: None,
                    units_done: 0,
                    units_total: 0,
                    running: Vec::new(),
                    summary: None,
                },
                log_incomplete: None,
            });
        };
        let contents = runlog::read_all(&self.layout.events_path(&run_id)).map_err(|source| {
            StatusError::Log {
                run_id: run_id.clone(),
                source,
            }
        })?;
        let gap = contents.events.iter().rev().find_map(|e| match &e.event {
            Event::LogIncomplete(gap) => Some(gap),
            _ => None,
        });
        let log_incomplete = match (&contents.damage, gap) {
            (Some(damage), _) => Some(error_chain(damage)),
            (None, Some(gap)) => Some(log_incomplete_text(&hostname(), gap)),
            (None, None) => None,
        };
        Ok(HostStatus {
            report: status_report(&run_id, &contents.events, running.is_some()),
            log_incomplete,
        })
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
