//! [`HostRuns`]: this host's runs as the session's [`RunSource`]: a dry run executed here, a real
//! run started as the run unit and its log followed ([`HostEvents`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use backup_orchestrator_proto::{
    Envelope, Refusal, RefusalKind, RunHistory, RunOptions, StatusReport, UnitLogs, exit_codes,
};
use backup_orchestrator_render::NOTHING_TO_CANCEL;

use super::execute::{self, CollectSink};
use super::history::history;
use super::host::{Host, StartError};
use super::logs::unit_logs;
use super::session::{EventSource, RunSource, refusal};
use super::unit::{OwnershipError, RunUnit};
use crate::plan::Plan;
use crate::runlog::{self, Follower, LogFollowError};
use backup_orchestrator_render::error_chain;

/// This host's runs, for a controller.
#[derive(Debug)]
pub struct HostRuns {
    /// `--plan FILE`, else the default plan (see [`Plan::load_chosen`]).
    plan: Option<PathBuf>,
    host: Option<Host>,
}

impl HostRuns {
    pub fn new(plan: Option<PathBuf>) -> HostRuns {
        HostRuns { plan, host: None }
    }

    /// The host's plan, checked.
    fn plan(&self) -> Result<Plan, Refusal> {
        Plan::load_chosen(self.plan.as_deref()).map_err(|e| {
            refusal(
                RefusalKind::PlanInvalid,
                format!("the host's plan is invalid: {}", error_chain(&e)),
            )
        })
    }

    async fn host(&mut self) -> Result<&Host, Refusal> {
        if self.host.is_none() {
            let host = Host::connect().await.map_err(internal)?;
            self.host = Some(host);
        }
        Ok(self.host.as_ref().expect("connected above"))
    }
}

fn internal(e: OwnershipError) -> Refusal {
    refusal(RefusalKind::Internal, error_chain(&e))
}

impl RunSource for HostRuns {
    type Events = HostEvents;

    async fn run(&mut self, options: RunOptions) -> Result<HostEvents, Refusal> {
        // Checked before anything is started or locked.
        let plan = self.plan()?;
        if options.dry_run {
            let systemd = self
                .host()
                .await?
                .systemd()
                .await
                .map_err(|e| refusal(RefusalKind::Internal, e.to_string()))?;
            let sink = RefCell::new(CollectSink::new(Instant::now()));
            execute::dry_run(&plan, options.stop_units_on_timeout, &systemd, &sink).await;
            return Ok(HostEvents::Buffered(sink.into_inner().events.into()));
        }
        let host = self.host().await?;
        let run_id = match host.start(&plan, options.stop_units_on_timeout).await {
            Ok(run_id) => run_id,
            Err(StartError::Ownership(OwnershipError::InProgress { active })) => {
                return Err(Refusal {
                    kind: RefusalKind::RunInProgress,
                    message: format!(
                        "another backup run is in progress on this host: {}; attach to it instead",
                        active.describe()
                    ),
                    run_id: active.run_id,
                    started_at: active.started_at,
                    exit_code: exit_codes::COULD_NOT_RUN,
                });
            }
            Err(e) => return Err(refusal(RefusalKind::Internal, error_chain(&e))),
        };
        follow(host, &run_id)
    }

    async fn attach(&mut self, run_id: Option<String>) -> Result<HostEvents, Refusal> {
        if let Some(id) = &run_id
            && !runlog::is_run_id(id)
        {
            return Err(refusal(
                RefusalKind::NoRun,
                format!("{id:?} is not a run id"),
            ));
        }
        let host = self.host().await?;
        let Some(id) = host.resolve(run_id.as_deref()).await.map_err(internal)? else {
            return Err(refusal(
                RefusalKind::NoRun,
                match run_id {
                    Some(id) => format!("no run {id} on this host"),
                    None => "no backup run on this host yet".to_owned(),
                },
            ));
        };
        follow(host, &id)
    }

    async fn status(&mut self) -> Result<StatusReport, Refusal> {
        let status = self.host().await?.status().await;
        status
            .map(|status| status.report)
            .map_err(|e| refusal(RefusalKind::Internal, error_chain(&e)))
    }

    async fn cancel(&mut self, stop_units: bool) -> Result<String, Refusal> {
        match self
            .host()
            .await?
            .cancel(stop_units)
            .await
            .map_err(internal)?
        {
            Some(active) => Ok(active.run_id.unwrap_or_default()),
            None => Err(refusal(RefusalKind::NoRun, NOTHING_TO_CANCEL)),
        }
    }

    async fn logs(&mut self, unit: String, lines: u32) -> Result<UnitLogs, Refusal> {
        let plan = self.plan()?;
        let host = self.host().await?;
        unit_logs(&plan, host.unit.connection(), &unit, lines).await
    }

    async fn history(&mut self) -> Result<RunHistory, Refusal> {
        let host = self.host().await?;
        let running = host.unit.running_id().await.map_err(internal)?;
        Ok(history(&host.layout, running.as_deref()))
    }
}

fn follow(host: &Host, run_id: &str) -> Result<HostEvents, Refusal> {
    host.follow(run_id)
        .map(|f| HostEvents::Live(Box::new(f)))
        .map_err(|e| refusal(RefusalKind::Internal, error_chain(&e)))
}

/// A run's events for the session: a dry run's, already complete, or a real run's log, followed.
#[derive(Debug)]
pub enum HostEvents {
    Buffered(VecDeque<Envelope>),
    Live(Box<Follower<RunUnit>>),
}

impl EventSource for HostEvents {
    async fn next(&mut self) -> Result<Option<Envelope>, Refusal> {
        match self {
            HostEvents::Buffered(events) => Ok(events.pop_front()),
            HostEvents::Live(follower) => follower.next().await.map_err(|e| {
                let mut refused = refusal(RefusalKind::Internal, error_chain(&e));
                if let LogFollowError::Abandoned { run_id } = &e {
                    refused.run_id = Some(run_id.clone());
                }
                refused
            }),
        }
    }
}
