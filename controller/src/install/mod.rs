//! `backup-orchestrator-ctl install TARGET…`: puts the agent and its sudo rule on hosts over the
//! controller's own SSH connection: [`run`].
//!
//! Every host gets its own task (`host.rs`); they run at once, and sudo password prompts take
//! turns. The local agent is read and hashed once ([`LocalAgent`]). A host is either installed,
//! already installed (same SHA-256 and the exact rule listed by `sudo -n -l`: nothing is touched,
//! and no sudo is needed), or failed with what to do; the exit code is 3 if any host failed.

mod error;
mod host;
mod local_agent;
mod sudo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{
    InstallReport, InstallResult, OutputMode, PipeState, install_json, install_line,
};
use tokio::sync::Mutex;

use crate::error::CtlError;
use crate::ssh::endpoint::Target;
use host::{HostInstall, install_host};
use local_agent::LocalAgent;

/// Where `install` puts the agent when `--agent-path` is not an absolute path. sudo's default
/// secure_path includes /usr/local/bin, so runs find it as plain `backup-orchestrator`.
pub const DEFAULT_AGENT_PATH: &str = "/usr/local/bin/backup-orchestrator";
/// The agent's file name, next to the controller's own executable in a release.
const AGENT_FILE_NAME: &str = "backup-orchestrator";

/// `--agent-binary`, else `backup-orchestrator` next to this executable.
fn agent_binary(given: Option<&Path>) -> Result<PathBuf, CtlError> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| CtlError::Internal {
        message: format!("cannot find the controller's own executable: {e}"),
    })?;
    Ok(exe.with_file_name(AGENT_FILE_NAME))
}

/// The absolute path to install at: `--agent-path` when absolute, else [`DEFAULT_AGENT_PATH`]
/// for the default name; any other relative name is a usage error.
pub fn install_path(agent_path: &str) -> Result<String, CtlError> {
    if agent_path.starts_with('/') {
        Ok(agent_path.to_owned())
    } else if agent_path == AGENT_FILE_NAME {
        Ok(DEFAULT_AGENT_PATH.to_owned())
    } else {
        Err(CtlError::Usage {
            message: format!(
                "install needs an absolute --agent-path (got {agent_path:?}); the default is {DEFAULT_AGENT_PATH}"
            ),
        })
    }
}

/// Installs on every target; prints a line per host as it ends (or the JSON list at the end);
/// exit 0 when every host is installed or already was, 3 otherwise.
pub async fn run(
    targets: Vec<Target>,
    agent_binary_given: Option<&Path>,
    agent_path: &str,
    mode: OutputMode,
) -> Result<i32, CtlError> {
    let agent_path = install_path(agent_path)?;
    let agent = Arc::new(LocalAgent::load(&agent_binary(agent_binary_given)?).await?);
    let prompt_lock = Mutex::new(());
    let mut pipe = PipeState::default();
    let jobs: Vec<HostInstall> = targets
        .into_iter()
        .map(|target| HostInstall {
            target,
            agent: Arc::clone(&agent),
            agent_path: agent_path.clone(),
        })
        .collect();
    let mut pending: futures_util::stream::FuturesOrdered<_> = jobs
        .iter()
        .map(|job| install_host(job, &prompt_lock))
        .collect();
    let mut reports = Vec::new();
    use futures_util::StreamExt;
    while let Some(report) = pending.next().await {
        show(&report, mode, &mut pipe)?;
        reports.push(report);
    }
    if mode == OutputMode::Json {
        write(&mut pipe, &install_json(&reports), false)?;
    }
    let failed = reports.iter().any(|r| r.result == InstallResult::Failed);
    Ok(if failed {
        exit_codes::COULD_NOT_RUN
    } else {
        exit_codes::SUCCESS
    })
}

/// A host's line: on stdout in the text modes, its error on stderr in every mode.
fn show(report: &InstallReport, mode: OutputMode, pipe: &mut PipeState) -> Result<(), CtlError> {
    match (&report.error, mode) {
        (Some(error), _) => write(pipe, &format!("error: {error}\n"), true),
        (None, OutputMode::Plain | OutputMode::Bars) => write(pipe, &install_line(report), false),
        (None, OutputMode::Json | OutputMode::Quiet) => Ok(()),
    }
}

fn write(pipe: &mut PipeState, text: &str, stderr: bool) -> Result<(), CtlError> {
    use std::io::Write;
    pipe.write(|| {
        if stderr {
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes()).and_then(|()| err.flush())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
    })
    .map_err(CtlError::Output)
}

#[cfg(test)]
mod tests {
    use super::error::{HostInstallError, InstallError};
    use super::*;

    #[test]
    fn install_path_defaults_to_usr_local_bin_and_wants_an_absolute_path() {
        assert_eq!(
            install_path("backup-orchestrator").unwrap(),
            DEFAULT_AGENT_PATH
        );
        assert_eq!(install_path("/opt/bo/agent").unwrap(), "/opt/bo/agent");
        assert_eq!(install_path("bin/agent").unwrap_err().exit_code(), 64);
    }

    #[test]
    fn install_error_without_sudo_names_the_sudoers_line() {
        let error = HostInstallError {
            host: "h1".into(),
            sudoers_line: "deploy ALL=(root) NOPASSWD: /usr/local/bin/backup-orchestrator serve"
                .into(),
            agent_path: DEFAULT_AGENT_PATH.into(),
            source: InstallError::NeedsPassword,
        };
        let text = error.to_string();
        assert!(text.starts_with("h1: sudo wants a password"), "{text}");
        assert!(
            text.ends_with(
                "\n  deploy ALL=(root) NOPASSWD: /usr/local/bin/backup-orchestrator serve"
            ),
            "{text}"
        );
    }
}
