//! `backup-orchestrator-ctl`: runs a host's backup plan over SSH and shows its progress.
//!
//! Parse the command line, run it, map the outcome to the exit code a pipeline gates on:
//! the run's verdict (0/1/2), or [`error::CtlError::exit_code`] (3, 64, 130, a refusal's code).
//!
//! Layers, each importing only those below it:
//!
//! ```text
//!  main ─▶ app (the commands; confirm, hints; targets: TARGET… through the inventory to hosts)
//!           ├─▶ fleet (run, attach): a task per host ─▶ feed ─▶ display task, owner of the Reporter
//!           ├─▶ one_reply (status, cancel)
//!           └─▶ install, doctor: a task per host over ssh::command (and a Hello at the end)
//!  connector (HostConnector: native or openssh per host, the `Connect` the fleet runs)
//!  reconnect (follow a run across lost connections) ─▶ feed (host-keyed messages)
//!  error (CtlError: every exit code, in one match)
//!  ssh (native: config, connect, exec)  ─┬▶ session (Hello, follow) ─▶ remote (what went wrong on the host)
//!  openssh (the system ssh as a child) ──┘
//!  transport (AgentChannel, RemoteExit), transport_kind (Transport)
//! ```
//!
//! The session design is in `session/mod.rs`, `reconnect.rs`, `fleet/mod.rs` and `ssh/mod.rs`.

mod app;
mod check;
mod cli;
mod confirm;
mod connector;
mod doctor;
mod each_host;
mod error;
mod feed;
mod fleet;
mod hints;
mod install;
mod interrupt;
mod inventory;
mod one_reply;
mod openssh;
mod reconnect;
mod remote;
mod session;
mod ssh;
mod targets;
mod transport;
mod transport_kind;

use std::io::IsTerminal;
use std::process::ExitCode;

use backup_orchestrator_render::{error_chain, printable};

use crate::error::CtlError;

fn main() -> ExitCode {
    let cli = match cli::Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => {
            let code = cli::usage_exit_code(&error);
            let _ = error.print();
            return exit(code);
        }
    };
    init_logging(cli.options.verbose);
    let code = match app::run(cli) {
        Ok(code) => code,
        Err(error) => {
            match &error {
                // Not failures of this tool: say what happened, without "error:".
                CtlError::Interrupted { .. } | CtlError::NotConfirmed { .. } => {
                    eprintln!("{}", printable(&error.to_string()))
                }
                // The chain may quote the host (sudo's or the agent's stderr): printable.
                _ => eprintln!("error: {}", printable(&error_chain(&error))),
            }
            error.exit_code()
        }
    };
    exit(code)
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(
        u8::try_from(code).unwrap_or(backup_orchestrator_proto::exit_codes::COULD_NOT_RUN as u8),
    )
}

/// Diagnostics on stderr: warnings by default, this crate's debug lines with `-v`, or `RUST_LOG`.
/// Each line carries the time since the controller started: where a slow host spends its time
/// (connect, auth, sudo, the agent's Hello) reads straight off `-v`.
fn init_logging(verbose: bool) {
    let default = if verbose {
        "warn,backup_orchestrator_ctl=debug"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .try_init();
}
