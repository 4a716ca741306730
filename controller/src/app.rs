//! What each command does, start to end: [`run`].
//!
//! ```text
//!  run HOST:    resolve ─▶ confirm ─▶ fleet of one: connect+Hello ─▶ Run ─▶ follow (reconnect) ─▶ exit = verdict
//!  attach HOST: resolve ─────────────▶ fleet of one: connect+Hello ─▶ Attach ─▶ follow (reconnect) ─▶ exit = verdict
//!  status HOST: resolve ─────────────▶ connect+Hello ─▶ Status ─▶ print
//!  cancel HOST: resolve ─────────────▶ connect+Hello ─▶ Cancel ─▶ print
//!                        Ctrl-C anywhere: drop the sessions (the runs go on), exit 130
//! ```
//!
//! `run` and `attach` go through `fleet`: one task per host feeding one display that owns the
//! [`Reporter`]; the exit code is the worst host's.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use backup_orchestrator_proto::{Event, Request, RunOptions, exit_codes};
use backup_orchestrator_render::{OutputMode, PipeState, Reporter, RunReporter, demo_events};

use crate::cli::{Action, Cli, GlobalOptions, completions, man_page};
use crate::confirm::confirm_run;
use crate::connector::HostConnector;
use crate::error::CtlError;
use crate::fleet::{self, HostJob};
use crate::hints::Hints;
use crate::one_reply::{self, AnswerPrinter};
use crate::openssh::{OpensshConnector, SshArgs};
use crate::ssh::SshConnector;
use crate::ssh::config::{self, Environment, Overrides};
use crate::ssh::config_error::ConfigError;
use crate::transport_kind::Transport;

/// Runs the command line's action; `Ok` carries the exit code of the runs that ended.
pub fn run(cli: Cli) -> Result<i32, CtlError> {
    let options = cli.options.clone();
    match cli.action() {
        Action::Completions { shell } => {
            write_stdout(&completions(shell))?;
            Ok(exit_codes::SUCCESS)
        }
        Action::Man => {
            write_stdout(&man_page().map_err(CtlError::Output)?)?;
            Ok(exit_codes::SUCCESS)
        }
        Action::SshConfig { host } => ssh_config(&host, &options),
        Action::DebugRender { delay_ms } => debug_render(&options, delay_ms),
        Action::Run { host } => {
            check_options(&options)?;
            let target = Resolved::new(&host, &options)?;
            confirm_run(&target.hints.host, options.yes, options.dry_run)?;
            let request = Request::Run(RunOptions {
                dry_run: options.dry_run,
                stop_units_on_timeout: options.stop_units_on_timeout,
            });
            block_on(follow_hosts(vec![target], request, &options))
        }
        Action::Attach { host } => {
            check_options(&options)?;
            let target = Resolved::new(&host, &options)?;
            let request = Request::Attach {
                run_id: None,
                after_seq: None,
            };
            block_on(follow_hosts(vec![target], request, &options))
        }
        Action::Status { host } => {
            check_options(&options)?;
            let mut target = Resolved::new(&host, &options)?;
            let mut printer = AnswerPrinter::new(output_mode(&options));
            let work = one_reply::status(&mut target.connector, &target.hints, &mut printer);
            block_on(interruptible(work, &target.hints, false))
        }
        Action::Cancel { host, stop_units } => {
            check_options(&options)?;
            let mut target = Resolved::new(&host, &options)?;
            let mut printer = AnswerPrinter::new(output_mode(&options));
            let work = one_reply::cancel(
                &mut target.connector,
                &target.hints,
                stop_units,
                &mut printer,
            );
            block_on(interruptible(work, &target.hints, false))
        }
    }
}

/// `--json` wins, then `--quiet`; bars only when both stdout and stderr are terminals, so
/// `ctl forge | tee log` keeps plain lines.
fn output_mode(options: &GlobalOptions) -> OutputMode {
    let terminal = io::stdout().is_terminal() && io::stderr().is_terminal();
    OutputMode::choose(options.json, options.quiet, terminal)
}

/// Writes `bytes` to stdout, under the render crate's broken-pipe policy.
fn write_stdout(bytes: &[u8]) -> Result<(), CtlError> {
    PipeState::default()
        .write(|| {
            let mut stdout = io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush())
        })
        .map_err(CtlError::Output)
}

/// Usage errors clap cannot express.
fn check_options(options: &GlobalOptions) -> Result<(), CtlError> {
    if options.agent_path.is_empty() || options.agent_path.starts_with('-') {
        return Err(CtlError::Usage {
            message: format!(
                "--agent-path {:?} is not a command: give the agent's name or absolute path",
                options.agent_path
            ),
        });
    }
    Ok(())
}

fn block_on<F: std::future::Future<Output = Result<i32, CtlError>>>(
    future: F,
) -> Result<i32, CtlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CtlError::Internal {
            message: format!("the async runtime: {e}"),
        })?;
    runtime.block_on(future)
}

/// The command line's SSH settings.
fn overrides(options: &GlobalOptions) -> Overrides {
    Overrides {
        config_file: options.ssh_config.clone(),
        user: options.user.clone(),
        port: options.port,
        identity_files: options.identity.clone(),
        connect_timeout: options.connect_timeout.map(Duration::from_secs),
        accept_new_host_key: options.accept_new_host_key,
        jump: options.jump.clone(),
        options: options.ssh_option.clone(),
    }
}

/// `ssh-config HOST`: the resolved settings on stdout; what would be refused is the error.
fn ssh_config(host: &str, options: &GlobalOptions) -> Result<i32, CtlError> {
    let resolved = config::inspect(host, &overrides(options), &Environment::from_process())?;
    write_stdout(crate::ssh::dump::ssh_g(&resolved).as_bytes())?;
    if resolved.refusals.is_empty() {
        Ok(exit_codes::SUCCESS)
    } else {
        Err(ConfigError::Refused {
            host: resolved.target.label,
            refusals: resolved.refusals,
        }
        .into())
    }
}

/// A resolved host and the commands to show the user about it.
struct Resolved {
    connector: HostConnector,
    hints: Hints,
}

impl Resolved {
    /// `host` over the command line's `--transport` (default native).
    fn new(host: &str, options: &GlobalOptions) -> Result<Resolved, CtlError> {
        Resolved::with_transport(host, options, options.transport.unwrap_or_default())
    }

    /// `host` over `transport`: the hook for a per-host choice (an inventory's
    /// `transport = "openssh"`, which `--transport` given on the command line overrides).
    fn with_transport(
        host: &str,
        options: &GlobalOptions,
        transport: Transport,
    ) -> Result<Resolved, CtlError> {
        match transport {
            Transport::Native => {
                let target =
                    config::resolve(host, &overrides(options), &Environment::from_process())?;
                tracing::debug!(?target, "resolved");
                Ok(Resolved {
                    hints: Hints::new(options, host, &target.label),
                    connector: HostConnector::Native(SshConnector::new(
                        target,
                        &options.agent_path,
                    )),
                })
            }
            // ssh resolves the config itself: no refusals apply.
            Transport::Openssh => {
                let args = ssh_args(options);
                let label = host.rsplit_once('@').map_or(host, |(_, name)| name);
                let user = OpensshConnector::probe_user(host, &args)
                    .or_else(|| options.user.clone())
                    .unwrap_or_default();
                Ok(Resolved {
                    hints: Hints::new(options, host, label),
                    connector: HostConnector::Openssh(OpensshConnector::new(
                        host,
                        label,
                        &user,
                        args,
                        options.accept_new_host_key,
                        &options.agent_path,
                    )),
                })
            }
        }
    }
}

/// The command line's SSH settings, for the system `ssh`.
fn ssh_args(options: &GlobalOptions) -> SshArgs {
    SshArgs {
        config_file: options.ssh_config.clone(),
        jump: options.jump.clone(),
        options: options.ssh_option.clone(),
        user: options.user.clone(),
        port: options.port,
        identity_files: options.identity.clone(),
        connect_timeout: options
            .connect_timeout
            .map_or(config::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs),
    }
}

/// Run or attach on `targets`, each followed to its summary; the exit code is the worst host's.
async fn follow_hosts(
    targets: Vec<Resolved>,
    request: Request,
    options: &GlobalOptions,
) -> Result<i32, CtlError> {
    let jobs: Vec<HostJob<HostConnector>> = targets
        .into_iter()
        .map(|target| HostJob::new(target.connector, request.clone(), target.hints))
        .collect();
    // What Ctrl-C says: the first host's hints, with its attach command once a run may exist.
    let (hints, run_may_exist) = match jobs.first() {
        Some(job) => (job.hints.clone(), job.run_may_exist.clone()),
        None => return Ok(exit_codes::SUCCESS),
    };
    let reporter: Box<dyn Reporter> =
        Box::new(RunReporter::new(output_mode(options), options.verbose));
    let work = fleet::run(jobs, reporter);
    let codes = tokio::select! {
        codes = work => codes?,
        _ = tokio::signal::ctrl_c() => {
            return Err(interrupted(&hints, run_may_exist.load(Ordering::SeqCst)));
        }
    };
    Ok(codes.into_iter().max().unwrap_or(exit_codes::SUCCESS))
}

/// Runs `work` until it ends or Ctrl-C. On Ctrl-C the work (and with it the SSH session) is
/// dropped.
async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, CtlError>>,
    hints: &Hints,
    run_may_exist: bool,
) -> Result<T, CtlError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(interrupted(hints, run_may_exist)),
    }
}

fn interrupted(hints: &Hints, run_may_exist: bool) -> CtlError {
    CtlError::Interrupted {
        host: hints.host.clone(),
        attach_hint: run_may_exist.then(|| hints.attach.clone()),
    }
}

/// The hidden `debug-render`: the demo run through the real display, paced by `delay_ms`.
fn debug_render(options: &GlobalOptions, delay_ms: u64) -> Result<i32, CtlError> {
    let mut reporter = RunReporter::new(output_mode(options), options.verbose);
    let mut code = exit_codes::SUCCESS;
    for envelope in demo_events() {
        reporter
            .event("forge", &envelope)
            .map_err(CtlError::Output)?;
        if let Event::RunFinished(finished) = &envelope.event {
            reporter
                .finish("forge", &finished.summary)
                .map_err(CtlError::Output)?;
            code = finished.summary.exit_code;
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
    reporter.done().map_err(CtlError::Output)?;
    write_stdout(&[])?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_paths_that_look_like_options_are_usage_errors() {
        let options = GlobalOptions {
            agent_path: "--help".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(check_options(&options).unwrap_err().exit_code(), 64);
    }
}
