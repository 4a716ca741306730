//! What each command does, start to end: [`run`].
//!
//! ```text
//!  run TARGET…:    inventory + resolve ─▶ fleet: check each (connect+Hello) ─▶ confirm once ─▶ Run ─▶ follow ─▶ exit = worst verdict
//!                  (with --yes or --dry-run nobody is asked: each host runs as soon as it is checked)
//!  attach TARGET…: inventory + resolve ─▶ fleet: check each (connect+Hello) ───────────────▶ Attach ─▶ follow ─▶ exit = worst verdict
//!  status TARGET…: inventory + resolve ─▶ each host, --parallel at once: connect+Hello ─▶ Status ─▶ print in order
//!  cancel TARGET…: inventory + resolve ─▶ each host, --parallel at once: connect+Hello ─▶ Cancel ─▶ print in order
//!  history TARGET…: inventory + resolve ─▶ each host, --parallel at once: connect+Hello ─▶ History ─▶ print in order
//!  check TARGET…:   inventory + resolve ─▶ each host, --parallel at once: connect+Hello ─▶ History ─▶ one plugin line (UNKNOWN if not asked)
//!  logs HOST UNIT: inventory + resolve ─▶ connect+Hello ─▶ Logs ─▶ print the lines
//!  install TARGET…: resolve ─▶ per host: connect ─▶ compare ─▶ sudo once ─▶ upload, verify, rename ─▶ Hello
//!  doctor TARGET…:  resolve ─▶ per host: connect ─▶ checklist (sudo -n -l, mounts, D-Bus, Hello, dry run)
//!                  Ctrl-C anywhere: drop the sessions (the runs go on), exit 130
//! ```
//!
//! `run` and `attach` go through `fleet`: one task per host feeding one display that owns the
//! [`Reporter`] (a fleet's JSON document or table when more than one host or a `@GROUP` was named,
//! else the single host's display); the exit code is the worst host's.

use std::io::{self, IsTerminal, Write};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backup_orchestrator_proto::{Event, Request, RunOptions, exit_codes};
use backup_orchestrator_render::{
    FleetJson, FleetTable, OutputMode, PipeState, Reporter, RunReporter, SingleJson, demo_events,
    error_chain,
};
use futures_util::StreamExt;

use crate::cli::{Action, Cli, GlobalOptions, completions, man_page};
use crate::confirm;
use crate::connector::HostConnector;
use crate::error::CtlError;
use crate::fleet::{self, HostJob, Start};
use crate::hints::Hints;
use crate::interrupt::interruptible;
use crate::one_reply::{self, AnswerPrinter, Question};
use crate::ssh::config::{self, Environment};
use crate::ssh::config_error::ConfigError;
use crate::ssh::endpoint::Target;
use crate::targets::{Targets, check_agent_path, overrides, resolve};
use crate::{check, doctor, each_host, install};

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
        Action::Logs { host, unit, lines } => {
            check_options(&options)?;
            let targets = Targets::resolve(std::slice::from_ref(&host), &options)?;
            block_on(logs(targets, &unit, lines, &options))
        }
        Action::SshConfig { host } => ssh_config(&host, &options),
        Action::DebugRender { delay_ms } => debug_render(&options, delay_ms),
        Action::Install {
            targets,
            agent_binary,
        } => {
            let targets = resolve_all(&targets, &options)?;
            let mode = output_mode(&options);
            let work = install::run(targets, agent_binary.as_deref(), &options.agent_path, mode);
            block_on(until_ctrl_c(work, "install"))
        }
        Action::Doctor { targets } => {
            check_options(&options)?;
            let targets = resolve_all(&targets, &options)?;
            let work = doctor::run(targets, &options.agent_path, output_mode(&options));
            block_on(until_ctrl_c(work, "doctor"))
        }
        Action::Run { targets } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            let names: Vec<String> = targets.hosts.iter().map(|t| t.hints.host.clone()).collect();
            confirm::require_terminal(&names, options.yes, options.dry_run)?;
            let request = Request::Run(RunOptions {
                dry_run: options.dry_run,
                stop_units_on_timeout: options.stop_units_on_timeout,
            });
            block_on(follow_hosts(targets, request, &options))
        }
        Action::Attach { targets, run_id } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            if run_id.is_some() && targets.fleet {
                // A run id belongs to one host: on any other it names nothing.
                return Err(CtlError::Usage {
                    message: "attach --run RUN_ID takes one HOST, not several or a @GROUP"
                        .to_owned(),
                });
            }
            let request = Request::Attach {
                run_id,
                after_seq: None,
            };
            block_on(follow_hosts(targets, request, &options))
        }
        Action::Status { targets } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            block_on(one_reply_each(targets, Question::Status, &options))
        }
        Action::Check { targets, max_age } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            let mut printer = AnswerPrinter::new(output_mode(&options));
            block_on(check::run(
                targets,
                max_age,
                parallel(&options),
                &mut printer,
            ))
        }
        Action::History { targets } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            block_on(one_reply_each(targets, Question::History, &options))
        }
        Action::Cancel {
            targets,
            stop_units,
        } => {
            check_options(&options)?;
            let targets = Targets::resolve(&targets, &options)?;
            block_on(one_reply_each(
                targets,
                Question::Cancel { stop_units },
                &options,
            ))
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
    check_agent_path(&options.agent_path)
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
    let result = runtime.block_on(future);
    // Not waiting for blocking tasks: a confirmation still reading stdin (Ctrl-C at the prompt)
    // must not hold up the exit.
    runtime.shutdown_background();
    result
}

/// Resolves every target (`install`, `doctor`).
fn resolve_all(hosts: &[String], options: &GlobalOptions) -> Result<Vec<Target>, CtlError> {
    hosts.iter().map(|host| resolve(host, options)).collect()
}

/// Runs `work` until it ends or Ctrl-C (exit 130: what was done on the hosts stays done).
async fn until_ctrl_c(
    work: impl std::future::Future<Output = Result<i32, CtlError>>,
    what: &str,
) -> Result<i32, CtlError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(CtlError::Interrupted { hosts: vec![what.to_owned()], attach_hint: None }),
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

/// Run or attach on `targets`, each followed to its summary; the exit code is the worst host's.
async fn follow_hosts(
    targets: Targets,
    request: Request,
    options: &GlobalOptions,
) -> Result<i32, CtlError> {
    let jobs: Vec<HostJob<HostConnector>> = targets
        .hosts
        .into_iter()
        .map(|target| HostJob::new(target.connector, request.clone(), target.hints))
        .collect();
    // What Ctrl-C says: the hosts where a run may go on, and the one command attaching to them.
    let watch: Vec<_> = jobs
        .iter()
        .map(|job| (job.hints.clone(), job.run_may_exist.clone()))
        .collect();
    let hosts: Vec<String> = watch.iter().map(|(h, _)| h.host.clone()).collect();
    let mode = output_mode(options);
    let reporter: Box<dyn Reporter> = match (mode, targets.fleet) {
        (OutputMode::Json, true) => Box::new(FleetJson::new(&hosts, options.verbose)),
        (OutputMode::Bars, true) => Box::new(FleetTable::new(&hosts)),
        (OutputMode::Json, false) => Box::new(SingleJson::new(options.verbose)),
        (mode, _) => Box::new(RunReporter::new(mode, options.verbose)),
    };
    let single = !targets.fleet;
    let confirm = move |outcomes| confirm::confirm_checked(outcomes, single);
    // An attach is about a run that was confirmed already.
    let attach = matches!(request, Request::Attach { .. });
    let start = if confirm::is_asked(options.yes, options.dry_run) && !attach {
        Start::AfterConfirming(confirm)
    } else {
        Start::WhenChecked
    };
    let work = fleet::run(jobs, reporter, parallel(options), start);
    let codes = tokio::select! {
        codes = work => codes?,
        _ = tokio::signal::ctrl_c() => {
            let running: Vec<&(Hints, _)> = watch
                .iter()
                .filter(|(_, may)| may.load(Ordering::SeqCst))
                .collect();
            let attach_hint = match running.as_slice() {
                [] => None,
                [(hints, _)] if single => Some(hints.attach.clone()),
                _ => Some(targets.attach_all),
            };
            return Err(CtlError::Interrupted {
                hosts: running.iter().map(|(h, _)| h.host.clone()).collect(),
                attach_hint,
            });
        }
    };
    Ok(codes.into_iter().max().unwrap_or(exit_codes::SUCCESS))
}

/// `status`, `cancel` or `history` on every host, at most `--parallel` at once, each answer
/// printed in the order the hosts were named. One host's error is the command's; with several,
/// each error is said and the exit code is the worst.
async fn one_reply_each(
    targets: Targets,
    question: Question,
    options: &GlobalOptions,
) -> Result<i32, CtlError> {
    let mut printer = AnswerPrinter::new(output_mode(options));
    let single = !targets.fleet;
    let hosts = targets
        .hosts
        .into_iter()
        .map(|t| (t.connector, t.hints))
        .collect();
    let answers = each_host::in_order(
        hosts,
        parallel(options),
        |mut connector, hints| async move {
            let answer = question.ask(&mut connector, &hints).await;
            (hints, answer)
        },
    );
    let mut answers = pin!(answers);
    let mut worst = exit_codes::SUCCESS;
    while let Some((hints, result)) = interruptible(async { Ok(answers.next().await) }).await? {
        match result.and_then(|answer| printer.answer(&hints, &answer)) {
            Ok(()) => {}
            Err(error @ CtlError::Output(_)) => return Err(error),
            Err(error) if single => {
                printer.failed(&hints.host, &error)?;
                return Err(error);
            }
            Err(error) => {
                printer.failed(&hints.host, &error)?;
                eprintln!("error: {}", error_chain(&error));
                worst = worst.max(error.exit_code());
            }
        }
    }
    Ok(worst)
}

/// `--parallel N`: at most N hosts connecting or working at once.
fn parallel(options: &GlobalOptions) -> usize {
    usize::try_from(options.parallel).unwrap_or(usize::MAX)
}

/// `logs HOST UNIT`: one host (a `@GROUP` naming several is a usage error: whose unit?).
async fn logs(
    targets: Targets,
    unit: &str,
    lines: u32,
    options: &GlobalOptions,
) -> Result<i32, CtlError> {
    let mut hosts = targets.hosts;
    let (Some(mut target), true) = (hosts.pop(), hosts.is_empty()) else {
        return Err(CtlError::Usage {
            message: "logs takes one HOST, not a group of several".to_owned(),
        });
    };
    let mut printer = AnswerPrinter::new(output_mode(options));
    let work = one_reply::logs(
        &mut target.connector,
        &target.hints,
        unit,
        lines,
        &mut printer,
    );
    let result = interruptible(work).await;
    if let Err(error) = &result
        && !matches!(error, CtlError::Interrupted { .. } | CtlError::Output(_))
    {
        printer.failed(&target.hints.host, error)?;
    }
    result
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
