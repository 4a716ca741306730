//! What each command line does, and the one error type that maps every failure to an exit code
//! (`error.rs`, `CliError`). The commands are thin: they parse what they were given, call the run
//! operations (`crate::runs`) and render or print the outcome.
//!
//! ```text
//!  backup-orchestrator [--dry-run]   run.rs        dry run: engine in-process, rendered directly
//!                                                  real run: plan check → confirm → transient unit
//!                                                  (runs::unit) → follow its log (follow.rs)
//!  attach [RUN_ID]                   attach.rs     follow a run's log from its start
//!  status | cancel                   status.rs, cancel.rs
//!  check-plan [FILE] [--no-host]     check_plan.rs validate a plan, list what it matches here
//!  logs UNIT [-n N]                  logs.rs       a planned unit's last invocation's journal
//!  serve                             serve.rs      the controller's session (runs::session)
//!  run-owned --run-id ID (hidden)    run_owned.rs  inside the transient unit: engine → event log
//!  debug-render (hidden)             debug_render.rs
//!  (shared)                          error.rs      CliError;  output.rs  renderer, plan choice
//! ```

mod attach;
mod cancel;
mod check_plan;
mod debug_render;
mod error;
mod follow;
mod logs;
mod output;
mod run;
mod run_owned;
mod serve;
mod status;

use std::io::{self, IsTerminal};

use backup_orchestrator_proto::exit_codes;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;

use crate::cli::{self, Cli, Command, Parsed};
use crate::stderr::NonBlockingStderr;

use error::CliError;

/// The binary: parse, run, map the outcome to an exit code.
pub fn main() -> i32 {
    let cli = match cli::parse(std::env::args_os()) {
        Parsed::Run(cli) => cli,
        Parsed::Exit(code) => return code,
    };
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("backup-orchestrator: error: start the async runtime: {e}");
            return exit_codes::COULD_NOT_RUN;
        }
    };
    let code = match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            if e.needs_report() {
                eprintln!("backup-orchestrator: error: {e}");
            }
            e.exit_code()
        }
    };
    // Not dropped: tokio's stdin reads on a blocking thread that cannot be cancelled, and the
    // process is about to exit anyway.
    std::mem::forget(runtime);
    code
}

async fn dispatch(cli: Cli) -> Result<i32, CliError> {
    let global = &cli.global;
    match &cli.command {
        None => run::run(global).await,
        Some(Command::Attach { run_id }) => attach::attach(global, run_id.as_deref()).await,
        Some(Command::Status) => status::status(global).await,
        Some(Command::Cancel { stop_units }) => cancel::cancel(global, *stop_units).await,
        Some(Command::Logs { unit, lines }) => logs::logs(global, unit, *lines).await,
        Some(Command::Serve) => serve::serve(global).await,
        Some(Command::CheckPlan { file, no_host }) => {
            check_plan::check_plan(global, file.as_deref(), *no_host).await
        }
        Some(Command::DebugRender) => debug_render::debug_render(global).await,
        Some(Command::RunOwned { run_id }) => run_owned::run_owned(global, run_id).await,
    }
}

/// Diagnostics go to stderr (stdout belongs to the renderer or the protocol), colored only on a
/// terminal. `RUST_LOG` overrides the level; `-v` shows this crate's debug lines.
fn init_tracing(cli: &Cli) {
    let ansi = io::stderr().is_terminal();
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_target(false);
    // Inside the run unit stderr is journald's socket: never wait for it (see stderr.rs). Nor
    // report a dropped line on stderr (tracing's default), which would be a blocking write.
    let layer = if matches!(cli.command, Some(Command::RunOwned { .. })) {
        layer
            .with_writer(BoxMakeWriter::new(NonBlockingStderr::make))
            .log_internal_errors(false)
    } else {
        layer.with_writer(BoxMakeWriter::new(io::stderr))
    };
    let verbose = cli.global.verbose && !matches!(cli.command, Some(Command::Serve));
    let targets = match std::env::var("RUST_LOG") {
        Ok(spec) => spec.parse::<Targets>().unwrap_or_default(),
        Err(_) if verbose => Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("backup_orchestrator", LevelFilter::DEBUG),
        Err(_) => Targets::new().with_default(LevelFilter::WARN),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(targets))
        .try_init();
}
