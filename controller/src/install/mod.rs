//! `backup-orchestrator-ctl install TARGET…`: puts the agent and its sudo rule on hosts over the
//! controller's own SSH connection: [`run`].
//!
//! Every host gets its own task (`host.rs`); they run at once, and sudo password prompts take
//! turns. The local agent is read and hashed once ([`LocalAgent`]). A host is either installed,
//! already installed (same SHA-256 and the exact rule listed by `sudo -n -l`: nothing is touched,
//! and no sudo is needed), or failed with what to do; the exit code is 3 if any host failed.

mod host;
mod sudo;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{
    InstallReport, InstallResult, OutputMode, PipeState, install_json, install_line,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;

use crate::error::CtlError;
use crate::remote::RemoteFailure;
use crate::session::SessionError;
use crate::ssh::command::CommandError;
use crate::ssh::config::Target;
use crate::ssh::connect::ConnectError;
use host::{HostInstall, install_host};

/// Where `install` puts the agent when `--agent-path` is not an absolute path. sudo's default
/// secure_path includes /usr/local/bin, so runs find it as plain `backup-orchestrator`.
pub const DEFAULT_AGENT_PATH: &str = "/usr/local/bin/backup-orchestrator";
/// The sudoers drop-in `install` writes.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/backup-orchestrator";
/// The agent's file name, next to the controller's own executable in a release.
const AGENT_FILE_NAME: &str = "backup-orchestrator";

/// Why one host's install failed (exit 3 for the command).
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Connect(Box<ConnectError>),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("sudo refused to run anything ({said})")]
    SudoRefused { said: String },
    #[error("sudo wants a password and there is no terminal to type it on")]
    NeedsPassword,
    #[error("sudo refused the password {tries} times")]
    WrongPassword { tries: usize },
    #[error("failed to read the sudo password from the terminal")]
    Prompt {
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read the local agent {}", path.display())]
    ReadAgent {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the agent arrived damaged on the host; nothing was installed ({said})")]
    ChecksumMismatch { said: String },
    #[error(
        "the uploaded agent does not run on the host (another CPU architecture?); nothing was installed: {said}"
    )]
    AgentDoesNotRun { said: String },
    #[error("visudo refused the sudo rule; nothing was changed in /etc/sudoers.d ({said})")]
    RuleRefused { said: String },
    #[error("the install step failed (exit status {status:?}): {said}")]
    ScriptFailed { status: Option<u32>, said: String },
    #[error("the installed agent does not answer through `sudo -n AGENT serve`")]
    NoAnswer {
        #[source]
        source: SessionError,
    },
}

impl From<ConnectError> for InstallError {
    fn from(error: ConnectError) -> Self {
        InstallError::Connect(Box::new(error))
    }
}

/// An [`InstallError`] with the host, and what an admin can do by hand when sudo stood in the way.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {}{}", source, manual_hint(source, sudoers_line, agent_path))]
pub struct HostInstallError {
    pub host: String,
    pub sudoers_line: String,
    pub agent_path: String,
    #[source]
    pub source: InstallError,
}

fn manual_hint(error: &InstallError, sudoers_line: &str, agent_path: &str) -> String {
    match error {
        InstallError::NeedsPassword | InstallError::SudoRefused { .. } => format!(
            ". Run the install from a terminal (it asks for sudo's password once), or have an \
             admin put the agent at {agent_path} and add this sudoers rule:\n  {sudoers_line}"
        ),
        InstallError::NoAnswer {
            source: SessionError::Remote(failure),
        } if matches!(
            **failure,
            RemoteFailure::SudoPassword { .. } | RemoteFailure::SudoNotPermitted { .. }
        ) =>
        {
            format!(
                ". The rule `{sudoers_line}` is in place, but a rule sudo reads after it wins \
                 (sudoers applies the last match; /etc/sudoers.d is read in file name order): \
                 move the user's other rule before {SUDOERS_FILE}, e.g. into /etc/sudoers above \
                 its @includedir line"
            )
        }
        _ => String::new(),
    }
}

/// The agent to install, read once.
#[derive(Debug)]
pub struct LocalAgent {
    pub path: PathBuf,
    /// Lowercase hex.
    pub sha256: String,
}

impl LocalAgent {
    /// Hashes `path`; usage error (64) when it is not there.
    async fn load(path: &Path) -> Result<LocalAgent, CtlError> {
        let unreadable = |e: std::io::Error| CtlError::Usage {
            message: format!(
                "cannot read the agent binary {}: {e}. Build it with `cargo build --release -p \
                 backup-orchestrator` (it lands in target/release/) or take it from a release, and \
                 pass --agent-binary FILE",
                path.display()
            ),
        };
        let mut file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer).await.map_err(unreadable)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(LocalAgent {
            path: path.to_owned(),
            sha256: data_encoding::HEXLOWER.encode(&hasher.finalize()),
        })
    }
}

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
