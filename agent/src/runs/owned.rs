//! [`run_owned`]: the run itself, executed by PID 1 in the transient unit
//! `backup-orchestrator-run.service` that the CLI or `serve` started (`run-owned --run-id ID`).
//!
//! ```text
//!  signal handlers (SIGUSR1: start no more units, SIGUSR2: also stop running ones,
//!                   SIGTERM: finish now, units left running) ── installed first: the default
//!                   action would kill us
//!  runs/<id>/events ready, `current` = id, older runs beyond the last 20 deleted
//!  start hooks, beside ─┐
//!  engine::execute ──events──▶ HoldFinish ──▶ OwnedSink ──▶ events file (one frame per event,
//!                   (RunFinished held back) │                unbuffered)
//!                                            └─▶ journal (RUN_ID=<id>)
//!  textfile, end hooks (their failures: warnings) ─▶ RunFinished released
//!  summary.json written; what was dropped said (journal lines, forged D-Bus signals); exit with
//!  the verdict (0, 1, 2)
//! ```
//!
//! SIGTERM comes from `systemctl stop` or a shutdown, which give the unit seconds
//! (`TimeoutStopSec`, see `unit.rs`) before SIGKILL: the summary is made at once from the units as
//! they stand, the running ones left running and marked `still_running` (a stop of the run is
//! not a stop of the backups it started).
//!
//! The unit's main process exits with the run's verdict, so systemd marks a failed run's unit
//! `failed` (`systemctl --failed`, `OnFailure=`, node_exporter's systemd collector see it). The
//! starter and `attach` tell a run's end by its `RunFinished` and the unit's liveness, never by its
//! exit status, so nothing else changes with it.

use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::time::{Instant, SystemTime};

use backup_orchestrator_proto::LogLevel;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::execute::{Execution, HoldFinish, OwnedSink, connect_engine, execute_plan};
use super::unit::{RUN_UNIT, in_run_unit};
use crate::engine::Cancel;
use crate::journal::Journal;
use crate::monitoring::RunMonitor;
use crate::plan::{Plan, PlanError};
use crate::runlog::{self, KEEP_RUNS, Layout, LogWriter, RunLogError};
use crate::systemd::{SystemdBus, SystemdError};
use backup_orchestrator_render::error_chain;

/// Why the run could not run or keep its log (its verdict, whatever it is, is its exit code).
#[derive(Debug, thiserror::Error)]
pub enum OwnedRunError {
    /// Started by hand, not by systemd as the run unit (see [`in_run_unit`]).
    #[error(
        "run-owned runs only inside the transient unit {RUN_UNIT} that the agent starts itself; \
         start a run with `backup-orchestrator`"
    )]
    NotInRunUnit,
    #[error("tell whether this is the run unit (read /proc/self/cgroup)")]
    Cgroup(#[source] io::Error),
    #[error("{run_id:?} is not a run id")]
    NotARunId { run_id: String },
    #[error("install a signal handler")]
    Signals(#[source] io::Error),
    #[error("run {run_id} cannot write its log")]
    Log {
        run_id: String,
        #[source]
        source: RunLogError,
    },
    /// The plan file changed since the starter checked it.
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    /// An event could not be appended (the run went on; its log is incomplete).
    #[error(transparent)]
    Append(RunLogError),
}

pub async fn run_owned(
    run_id: &str,
    plan: Option<&Path>,
    stop_units_on_timeout: bool,
) -> Result<i32, OwnedRunError> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    if !in_run_unit().map_err(OwnedRunError::Cgroup)? {
        return Err(OwnedRunError::NotInRunUnit);
    }
    let mut signals = CancelSignals::install()?;
    if !runlog::is_run_id(run_id) {
        return Err(OwnedRunError::NotARunId {
            run_id: run_id.to_owned(),
        });
    }
    let mut journal = Journal::open(run_id);
    let layout = Layout::system();
    let prepared = layout
        .prepared_events(run_id)
        .and_then(|events| layout.write_current(run_id).map(|()| events))
        .and_then(|events| LogWriter::open(&events, started));
    let writer = match prepared {
        Ok(writer) => writer,
        Err(source) => {
            let e = OwnedRunError::Log {
                run_id: run_id.to_owned(),
                source,
            };
            journal.error(&error_chain(&e));
            return Err(e);
        }
    };
    for old in layout.retain(KEEP_RUNS, run_id) {
        tracing::info!("deleted the log of old run {old}");
    }
    let mut sink = OwnedSink::new(writer, journal);

    // The starter checked the plan; a file changed since then ends the run here, said in its log.
    let plan = match Plan::load_chosen(plan) {
        Ok(plan) => plan,
        Err(e) => {
            let message = format!("the plan became invalid: {}", error_chain(&e));
            sink.log(LogLevel::Error, message);
            return Err(e.into());
        }
    };
    let systemd = match connect_engine().await {
        Ok(systemd) => systemd,
        Err(e) => {
            sink.log(LogLevel::Error, error_chain(&e));
            return Err(e.into());
        }
    };

    let cancel = Cancel::new();
    let execution = Execution {
        plan: &plan,
        run_id,
        dry_run: false,
        stop_units_on_timeout,
        started_at,
    };
    let monitor = RunMonitor::new(&plan.monitoring, layout.monitoring_path());
    let sink = RefCell::new(sink);
    let mut held = HoldFinish::new(&sink);
    let summary = {
        // The start hooks run beside the engine: a slow hook delays no backup.
        let run_started = execution.run_started();
        let start_hooks = monitor.started(&run_started);
        tokio::pin!(start_hooks);
        let mut start_warnings = None;
        let engine = execute_plan(&execution, &systemd, &mut held, cancel.clone());
        tokio::pin!(engine);
        let summary = loop {
            tokio::select! {
                // The engine first: its RunStarted is the log's first event, before any warning.
                biased;
                summary = &mut engine => break summary,
                warnings = &mut start_hooks, if start_warnings.is_none() => {
                    emit_warnings(&sink, &warnings);
                    start_warnings = Some(warnings);
                }
                request = signals.next() => {
                    tracing::info!("cancel requested: {request:?}");
                    match request {
                        CancelRequest::StartNoMore => cancel.start_no_more(),
                        CancelRequest::StopUnits => cancel.stop_units(),
                        CancelRequest::FinishNow => cancel.finish_now(),
                    }
                }
            }
        };
        if start_warnings.is_none() {
            emit_warnings(&sink, &start_hooks.await);
        }
        summary
    };
    emit_warnings(&sink, &monitor.finished(&summary, true).await);
    held.release();

    let summary_path = layout.summary_path(run_id);
    if let Err(e) = runlog::write_summary(&summary_path, &summary) {
        tracing::error!("{}", error_chain(&e));
    }
    let mut sink = sink.into_inner();
    report_dropped(&mut sink, &systemd);
    match sink.incomplete() {
        Some(e) => Err(OwnedRunError::Append(e)),
        None => Ok(summary.exit_code),
    }
}

fn emit_warnings(sink: &RefCell<OwnedSink>, warnings: &[String]) {
    for warning in warnings {
        sink.borrow_mut().log(LogLevel::Warn, warning.clone());
    }
}

/// Says what the run could not keep or did not believe, once it is over.
fn report_dropped(sink: &mut OwnedSink, systemd: &SystemdBus) {
    let lines = sink.finish_journal() + crate::stderr::dropped_lines();
    if lines > 0 {
        tracing::warn!("{lines} journal line(s) dropped: journald did not keep up");
    }
    let forged = systemd.foreign_signals();
    if forged > 0 {
        tracing::warn!(
            "ignored {forged} D-Bus signal(s) sent to this run by clients other than systemd"
        );
    }
}

/// What a signal asks of the run.
#[derive(Clone, Copy, Debug)]
enum CancelRequest {
    /// SIGUSR1 (`cancel`).
    StartNoMore,
    /// SIGUSR2 (`cancel --stop-units`).
    StopUnits,
    /// SIGTERM (`systemctl stop`, shutdown).
    FinishNow,
}

/// The signals `cancel` (and `systemctl stop`) send the run.
struct CancelSignals {
    usr1: Signal,
    usr2: Signal,
    term: Signal,
}

impl CancelSignals {
    fn install() -> Result<CancelSignals, OwnedRunError> {
        let install = |kind: SignalKind| signal(kind).map_err(OwnedRunError::Signals);
        Ok(CancelSignals {
            usr1: install(SignalKind::user_defined1())?,
            usr2: install(SignalKind::user_defined2())?,
            term: install(SignalKind::terminate())?,
        })
    }

    /// The next cancel request.
    async fn next(&mut self) -> CancelRequest {
        tokio::select! {
            _ = self.usr1.recv() => CancelRequest::StartNoMore,
            _ = self.usr2.recv() => CancelRequest::StopUnits,
            _ = self.term.recv() => CancelRequest::FinishNow,
        }
    }
}
