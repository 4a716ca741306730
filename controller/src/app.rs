//! What each command does, start to end: [`run`].
//!
//! ```text
//!  run HOST:    resolve ─▶ confirm ─▶ connect+Hello ─▶ Run ─▶ follow (reconnect) ─▶ report ─▶ exit = verdict
//!  attach HOST: resolve ─────────────▶ connect+Hello ─▶ Attach ─▶ follow (reconnect) ─▶ report ─▶ exit = verdict
//!  status HOST: resolve ─────────────▶ connect+Hello ─▶ Status ─▶ print
//!  cancel HOST: resolve ─────────────▶ connect+Hello ─▶ Cancel ─▶ print
//!                        Ctrl-C anywhere: drop the session (the run goes on), exit 130
//! ```

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup_orchestrator_proto::{Event, Reply, Request, RunOptions, exit_codes};
use backup_orchestrator_render::demo_events;

use crate::cli::{Action, Cli, GlobalOptions, completions, man_page};
use crate::confirm::confirm_run;
use crate::error::CtlError;
use crate::output::Output;
use crate::reconnect::{self, Connect, Hints, RetryPolicy};
use crate::session::{EventSink, RunEnd};
use crate::ssh::SshConnector;
use crate::ssh::config::{self, Environment, Overrides};
use crate::ssh::exec::shell_quote;

/// Runs the command line's action; `Ok` carries the exit code of a run that ended.
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
            let prepared = Prepared::new(&host, &options)?;
            confirm_run(&prepared.label, options.yes, options.dry_run)?;
            let request = Request::Run(RunOptions {
                dry_run: options.dry_run,
                stop_units_on_timeout: options.stop_units_on_timeout,
            });
            block_on(prepared.follow_run(request, &options))
        }
        Action::Attach { host } => {
            check_options(&options)?;
            let prepared = Prepared::new(&host, &options)?;
            let request = Request::Attach {
                run_id: None,
                after_seq: None,
            };
            block_on(prepared.follow_run(request, &options))
        }
        Action::Status { host } => {
            check_options(&options)?;
            let prepared = Prepared::new(&host, &options)?;
            block_on(prepared.status(&options))
        }
        Action::Cancel { host, stop_units } => {
            check_options(&options)?;
            let prepared = Prepared::new(&host, &options)?;
            block_on(prepared.cancel(stop_units, &options))
        }
    }
}

/// Writes `bytes` to stdout; a closed stdout (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), CtlError> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CtlError::Output(e)),
        _ => Ok(()),
    }
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
        Err(config::ConfigError::Refused {
            host: resolved.target.label,
            refusals: resolved.refusals,
        }
        .into())
    }
}

/// A resolved host and the commands to show the user about it.
struct Prepared {
    label: String,
    connector: SshConnector,
    hints: Hints,
}

impl Prepared {
    fn new(host: &str, options: &GlobalOptions) -> Result<Prepared, CtlError> {
        let target = config::resolve(host, &overrides(options), &Environment::from_process())?;
        tracing::debug!(?target, "resolved");
        let label = target.label.clone();
        Ok(Prepared {
            hints: Hints {
                host: label.clone(),
                attach: ctl_command(options, "attach", host),
                status: ctl_command(options, "status", host),
            },
            connector: SshConnector::new(target, &options.agent_path),
            label,
        })
    }

    /// Run or attach: follow the run to its summary; the exit code is its verdict.
    async fn follow_run(
        mut self,
        request: Request,
        options: &GlobalOptions,
    ) -> Result<i32, CtlError> {
        let mut output = Output::new(
            options.json,
            options.quiet,
            options.verbose,
            Some(self.label.clone()),
        );
        // Once the request may have reached the agent, Ctrl-C leaves a run behind on the host.
        let run_may_exist = Arc::new(AtomicBool::new(matches!(request, Request::Attach { .. })));
        let work = async {
            let session = self.connector.connect().await?;
            if matches!(request, Request::Attach { .. }) {
                session.require("attach")?;
            }
            run_may_exist.store(true, Ordering::SeqCst);
            reconnect::follow(
                &mut self.connector,
                session,
                request,
                &mut output as &mut dyn EventSink,
                &RetryPolicy::default(),
                &self.hints,
            )
            .await
        };
        let end = interruptible(work, &self.hints, &run_may_exist).await?;
        match end {
            RunEnd::Finished(summary) => {
                output.finish(&summary)?;
                Ok(summary.exit_code)
            }
            RunEnd::Refused(refusal) => Err(CtlError::Refused {
                host: self.label.clone(),
                refusal: Box::new(refusal),
                attach_hint: Some(self.hints.attach.clone()),
            }),
        }
    }

    async fn status(self, options: &GlobalOptions) -> Result<i32, CtlError> {
        let label = self.label.clone();
        let attach = self.hints.attach.clone();
        let (reply, session, mut output) = self
            .one_reply(&Request::Status, &["status"], options)
            .await?;
        match reply {
            Reply::Status(report) => {
                output.status(&label, &report, &attach)?;
                Ok(exit_codes::SUCCESS)
            }
            Reply::Refused(refusal) => Err(refused(&label, refusal)),
            other => Err(session.unexpected(&other)),
        }
    }

    async fn cancel(self, stop_units: bool, options: &GlobalOptions) -> Result<i32, CtlError> {
        let label = self.label.clone();
        let needed: &[&str] = if stop_units {
            &["cancel", "stop-units"]
        } else {
            &["cancel"]
        };
        let (reply, session, mut output) = self
            .one_reply(&Request::Cancel { stop_units }, needed, options)
            .await?;
        match reply {
            Reply::Cancelled { run_id, stop_units } => {
                output.cancelled(&label, &run_id, stop_units)?;
                Ok(exit_codes::SUCCESS)
            }
            Reply::Refused(refusal) => Err(refused(&label, refusal)),
            other => Err(session.unexpected(&other)),
        }
    }

    /// Connects, checks the agent offers `capabilities`, sends `request` and reads its one reply
    /// (status and cancel); returns it with the session (for error context) and the output.
    async fn one_reply(
        mut self,
        request: &Request,
        capabilities: &[&str],
        options: &GlobalOptions,
    ) -> Result<(Reply, crate::session::Session, Output), CtlError> {
        let work = async {
            let mut session = self.connector.connect().await?;
            for capability in capabilities {
                session.require(capability)?;
            }
            send_once(&mut session, request, &self.label).await?;
            session.single_reply().await.map(|reply| (reply, session))
        };
        let (reply, session) = interruptible(work, &self.hints, &AtomicBool::new(false)).await?;
        let output = Output::new(
            options.json,
            options.quiet,
            options.verbose,
            Some(self.label.clone()),
        );
        Ok((reply, session, output))
    }
}

fn refused(host: &str, refusal: backup_orchestrator_proto::Refusal) -> CtlError {
    CtlError::Refused {
        host: host.to_owned(),
        refusal: Box::new(refusal),
        attach_hint: None,
    }
}

/// Sends a request whose answer is a single reply.
async fn send_once(
    session: &mut crate::session::Session,
    request: &Request,
    host: &str,
) -> Result<(), CtlError> {
    session.send(request).await.map_err(|e| match e {
        crate::session::FollowError::Lost { reason } => CtlError::ConnectionLost {
            host: host.to_owned(),
            reason,
        },
        crate::session::FollowError::Fatal(e) => e,
    })
}

/// Runs `work` until it ends or Ctrl-C. On Ctrl-C the work (and with it the SSH session) is
/// dropped: the run, if any, goes on on the host.
async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, CtlError>>,
    hints: &Hints,
    run_may_exist: &AtomicBool,
) -> Result<T, CtlError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(CtlError::Interrupted {
            host: hints.host.clone(),
            attach_hint: run_may_exist.load(Ordering::SeqCst).then(|| hints.attach.clone()),
        }),
    }
}

/// `backup-orchestrator-ctl [the connection flags given] SUBCOMMAND HOST`, shell-quoted, for hints.
fn ctl_command(options: &GlobalOptions, subcommand: &str, host: &str) -> String {
    let mut words: Vec<String> = vec!["backup-orchestrator-ctl".into()];
    if let Some(path) = &options.ssh_config {
        words.push("--ssh-config".into());
        words.push(shell_quote(&path.to_string_lossy()));
    }
    if let Some(user) = &options.user {
        words.push("-l".into());
        words.push(shell_quote(user));
    }
    if let Some(port) = options.port {
        words.push("-p".into());
        words.push(port.to_string());
    }
    for identity in &options.identity {
        words.push("-i".into());
        words.push(shell_quote(&identity.to_string_lossy()));
    }
    // The same host means the same route and settings: -J and -o go along.
    if let Some(jump) = &options.jump {
        words.push("-J".into());
        words.push(shell_quote(jump));
    }
    for option in &options.ssh_option {
        words.push("-o".into());
        words.push(shell_quote(option));
    }
    if options.agent_path != "backup-orchestrator" {
        words.push("--agent-path".into());
        words.push(shell_quote(&options.agent_path));
    }
    words.push(subcommand.into());
    words.push(shell_quote(host));
    words.join(" ")
}

/// The hidden `debug-render`: the demo run through the real display, paced by `delay_ms`.
fn debug_render(options: &GlobalOptions, delay_ms: u64) -> Result<i32, CtlError> {
    let mut output = Output::new(
        options.json,
        options.quiet,
        options.verbose,
        Some("forge".to_owned()),
    );
    let mut code = exit_codes::SUCCESS;
    for envelope in demo_events() {
        output.event(&envelope).map_err(CtlError::Output)?;
        if let Event::RunFinished(finished) = &envelope.event {
            output.finish(&finished.summary)?;
            code = finished.summary.exit_code;
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
    }
    write_stdout(&[])?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_repeat_the_connection_flags_given() {
        let options = GlobalOptions {
            ssh_config: Some("/run/bo testhosts/ctl/ssh_config".into()),
            user: Some("deploy".into()),
            agent_path: "/opt/agent".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(
            ctl_command(&options, "attach", "h1"),
            "backup-orchestrator-ctl --ssh-config '/run/bo testhosts/ctl/ssh_config' -l deploy --agent-path /opt/agent attach h1"
        );
        let plain = GlobalOptions {
            agent_path: "backup-orchestrator".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(
            ctl_command(&plain, "attach", "forge"),
            "backup-orchestrator-ctl attach forge"
        );
    }

    #[test]
    fn agent_paths_that_look_like_options_are_usage_errors() {
        let options = GlobalOptions {
            agent_path: "--help".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(check_options(&options).unwrap_err().exit_code(), 64);
    }
}
