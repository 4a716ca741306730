//! The default command, `backup-orchestrator [--dry-run] [--yes] …`: run the host's plan.
//!
//! ```text
//!  load plan (64 if malformed: nothing started)
//!     ├─ --dry-run: engine in-process, rendered as it goes; textfile; exit code from its summary
//!     └─ real:  confirm (terminal, unless --yes; no terminal and no --yes: 64)
//!               → Host::start: transient unit backup-orchestrator-run.service (the lock; 3 if held)
//!               → follow its event log and render it (Ctrl-C: 130, the run goes on)
//! ```

use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::time::{Instant, SystemTime};

use backup_orchestrator_render::{PipeState, run_preview};

use super::error::CliError;
use super::follow;
use super::output::{load_plan, renderer};
use crate::cli::GlobalArgs;
use crate::engine::Cancel;
use crate::identity::hostname;
use crate::plan::Plan;
use crate::runlog;
use crate::runs::execute::{
    self, CollectSink, Execution, RenderSink, connect_engine, execute_plan,
};
use crate::runs::host::{Host, StartError};
use crate::runs::unit::OwnershipError;

pub async fn run(global: &GlobalArgs) -> Result<i32, CliError> {
    let plan = load_plan(global)?;
    if global.dry_run {
        return dry_run(global, &plan).await;
    }
    if !global.yes && !io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for confirmation on: pass --yes to run without asking".into(),
        ));
    }
    let host = Host::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    if !global.yes {
        // Refuse early rather than ask first and refuse after.
        if let Some(active) = host
            .unit
            .active_run()
            .await
            .map_err(|e| CliError::could_not_run(&e))?
            .filter(|a| a.is_alive())
        {
            return Err(in_progress(OwnershipError::InProgress { active }));
        }
        confirm(&host, &plan).await?;
    }
    let run_id = match host.start(&plan, global.stop_units_on_timeout).await {
        Ok(run_id) => run_id,
        Err(StartError::Ownership(e @ OwnershipError::InProgress { .. })) => {
            return Err(in_progress(e));
        }
        Err(e) => return Err(CliError::could_not_run(&e)),
    };
    tracing::debug!("started run {run_id}");
    let follower = host
        .follow(&run_id)
        .map_err(|e| CliError::could_not_run(&e))?;
    follow::render_run(follower, &mut renderer(global)).await
}

fn in_progress(e: OwnershipError) -> CliError {
    CliError::CouldNotRun(format!("{e}; attach with: backup-orchestrator attach"))
}

/// Runs the engine here without starting anything: no unit, no lock, no log; only the monitoring
/// textfile, if the plan has one, is refreshed.
async fn dry_run(global: &GlobalArgs, plan: &Plan) -> Result<i32, CliError> {
    let systemd = connect_engine()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let mut renderer = renderer(global);
    let sink = RefCell::new(RenderSink::new(&mut renderer, Instant::now()));
    let summary = execute::dry_run(plan, global.stop_units_on_timeout, &systemd, &sink).await;
    if let Some(e) = sink.into_inner().error.take() {
        return Err(CliError::output(e));
    }
    PipeState::default()
        .write(|| renderer.finish(&summary))
        .map_err(CliError::output)?;
    Ok(summary.exit_code)
}

/// Shows what would run (a dry run's stages) and asks `Run N stages on HOST now? [y/N]` on the
/// terminal.
async fn confirm(host: &Host, plan: &Plan) -> Result<(), CliError> {
    let now = SystemTime::now();
    let run_id = runlog::new_run_id(now);
    let systemd = host
        .systemd()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let execution = Execution {
        plan,
        run_id: &run_id,
        dry_run: true,
        stop_units_on_timeout: false,
        started_at: now,
    };
    let mut sink = CollectSink::new(Instant::now());
    execute_plan(&execution, &systemd, &mut sink, Cancel::new()).await;
    let preview = run_preview(&plan.source, &hostname(), &sink.events, plan.stages.len());
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(preview.as_bytes());
    let _ = stderr.flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::CouldNotRun(format!("read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        eprintln!("not started");
        Err(CliError::Interrupted)
    }
}
