//! What each command line does, and the one error type that maps every failure to an exit code
//! ([`CliError`]).
//!
//! ```text
//!  backup-orchestrator [--dry-run]   run.rs        dry run: engine in-process, rendered directly
//!                                                  real run: plan check → confirm → transient unit
//!                                                  (ownership.rs) → follow its log (follow.rs)
//!  attach [RUN_ID]                   attach.rs     follow a run's log from its start
//!  status | cancel                   status.rs, cancel.rs
//!  serve                             serve.rs      the controller's session (crate::serve)
//!  run-owned --run-id ID (hidden)    run_owned.rs  inside the transient unit: engine → event log
//!  debug-render (hidden)             debug_render.rs
//! ```

mod attach;
mod cancel;
mod debug_render;
mod follow;
mod host;
mod run;
mod run_owned;
mod serve;
mod sinks;
mod status;

use std::error::Error;
use std::io::{self, IsTerminal};
use std::path::Path;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::cli::{self, Cli, Command, GlobalArgs, Parsed};
use crate::plan::{self, Plan, PlanError};

pub use host::{Host, StartError, status_report};

/// `backup-orchestrator 0.1.0`: this build, as it names itself in Hellos and events.
pub const SOFTWARE: &str = concat!("backup-orchestrator ", env!("CARGO_PKG_VERSION"));

/// Every way a command ends other than with its run's verdict, and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The plan file is missing or malformed (64); nothing was started.
    #[error("{}", error_chain(.0))]
    Plan(#[from] PlanError),
    /// Bad usage or configuration (64).
    #[error("{0}")]
    Usage(String),
    /// The run could not happen or be followed on this host (3).
    #[error("{0}")]
    CouldNotRun(String),
    /// Ctrl-C, or the prompt declined (130); the message was already shown.
    #[error("interrupted")]
    Interrupted,
    /// Our stdout went away (broken pipe): end quietly (130, like an interruption).
    #[error("output closed")]
    OutputClosed,
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Plan(_) | CliError::Usage(_) => exit_codes::USAGE,
            CliError::CouldNotRun(_) => exit_codes::COULD_NOT_RUN,
            CliError::Interrupted | CliError::OutputClosed => exit_codes::INTERRUPTED,
        }
    }

    /// A failure with its whole chain of causes in the message.
    pub fn could_not_run(e: &(dyn Error + 'static)) -> CliError {
        CliError::CouldNotRun(error_chain(e))
    }

    /// A rendering error: a closed stdout ends quietly, anything else is reported.
    pub fn output(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::OutputClosed
        } else {
            CliError::CouldNotRun(format!("write the output: {e}"))
        }
    }

    /// Whether `main` should print the error (the others were shown already or must stay quiet).
    fn needs_report(&self) -> bool {
        !matches!(self, CliError::Interrupted | CliError::OutputClosed)
    }
}

/// `outer: inner: innermost`, for a one-line error message.
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

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
        Some(Command::Serve) => serve::serve(global).await,
        Some(Command::DebugRender) => debug_render::debug_render(global).await,
        Some(Command::RunOwned { run_id }) => run_owned::run_owned(global, run_id).await,
    }
}

/// Diagnostics go to stderr (stdout belongs to the renderer or the protocol), colored only on a
/// terminal. `RUST_LOG` overrides the level; `-v` shows this crate's debug lines.
fn init_tracing(cli: &Cli) {
    let ansi = io::stderr().is_terminal();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(ansi)
        .with_target(false);
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

/// The plan a command uses: `--plan FILE` (must exist), else the default path if it exists, else
/// the built-in plan. Always checked before anything is started.
pub fn load_plan(global: &GlobalArgs) -> Result<Plan, PlanError> {
    match &global.plan {
        Some(path) => Plan::load(&std::path::absolute(path).unwrap_or_else(|_| path.clone())),
        None => Plan::load_or_default(Path::new(plan::DEFAULT_PLAN_PATH)),
    }
}

/// The plan file `run-owned` must read, `None` for the built-in plan.
pub fn plan_file(plan: &Plan) -> Option<&Path> {
    (plan.source != plan::BUILTIN_SOURCE).then(|| Path::new(plan.source.as_str()))
}

/// A renderer for this command line's output flags.
pub fn renderer(global: &GlobalArgs) -> Renderer {
    let terminal = io::stderr().is_terminal() && io::stdout().is_terminal();
    let mode = OutputMode::choose(global.json, global.quiet, terminal);
    Renderer::new(RenderOptions {
        mode,
        verbose: global.verbose,
        host_label: None,
    })
}

/// This host's name, as events and messages show it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_malformed_plan_is_a_usage_error_naming_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(
            &path,
            "failure_threshold_percent = 50\n[[stage]]\nnme = \"x\"\n",
        )
        .unwrap();
        let global = GlobalArgs {
            plan: Some(path.clone()),
            ..GlobalArgs::default()
        };
        let err = CliError::from(load_plan(&global).unwrap_err());
        assert_eq!(err.exit_code(), 64);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}:3:1: ", path.display())),
            "{message}"
        );
    }

    #[test]
    fn an_explicit_plan_must_exist() {
        let global = GlobalArgs {
            plan: Some(PathBuf::from("/nonexistent/plan.toml")),
            ..GlobalArgs::default()
        };
        let err = CliError::from(load_plan(&global).unwrap_err());
        assert_eq!(err.exit_code(), 64);
        assert!(err.to_string().contains("/nonexistent/plan.toml"), "{err}");
    }

    #[test]
    fn the_builtin_plan_is_passed_to_run_owned_as_no_file() {
        assert_eq!(plan_file(&Plan::builtin_default()), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(&path, "[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n").unwrap();
        let plan = Plan::load(&path).unwrap();
        assert_eq!(plan_file(&plan), Some(path.as_path()));
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 64);
        assert_eq!(CliError::CouldNotRun("x".into()).exit_code(), 3);
        assert_eq!(CliError::Interrupted.exit_code(), 130);
        assert_eq!(
            CliError::output(io::Error::from(io::ErrorKind::BrokenPipe)).exit_code(),
            130
        );
    }
}
