//! [`InstallError`]: why one host's install failed; [`HostInstallError`]: with the host and the
//! way round it by hand.

use std::path::PathBuf;

use super::local_agent::SUDOERS_FILE;
use crate::remote::RemoteFailure;
use crate::session::SessionError;
use crate::ssh::command::CommandError;
use crate::ssh::connect_error::ConnectError;

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
