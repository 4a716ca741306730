//! The OpenSSH transport (`--transport openssh`): [`OpensshConnector::open`] runs the system
//! `ssh` and speaks the agent's protocol over its stdin/stdout.
//!
//! ```text
//!  ssh -T -o BatchMode=yes [-o …] -o StrictHostKeyChecking=… -o ConnectTimeout=N [-F] [-J] [-l] [-p] [-i]
//!      HOST -- sudo -n AGENT serve ──▶ child::spawn (AgentChannel) ──▶ session::start (Hello)
//! ```
//!
//! ssh reads its own config, so everything it supports works (ProxyCommand, ControlMaster,
//! certificates, FIDO and RSA keys, any agent) and the native resolver's refusals do not apply.
//! Failures are classified as for native: ssh's exit 255 is a connection error carrying ssh's
//! own message ([`OpensshError::Ssh`]); sudo and agent failures come through ssh's stderr and the
//! remote exit status into the session's usual diagnosis. A new host key is accepted (if asked)
//! on the first connection only; a reconnect is strict.

mod args;
mod child;

use std::ffi::OsString;
use std::time::Duration;

pub use args::SshArgs;

use crate::remote::{RemoteContext, RemoteFailure};
use crate::session::{self, Session, SessionError};
use crate::ssh::exec::agent_command;

/// The program run; found on `$PATH`, as a user's shell would.
const SSH_PROGRAM: &str = "ssh";
/// ssh's exit status for its own errors (connection, host key, authentication).
const SSH_FAILED: u32 = 255;
/// The agent gets this long after the connect timeout to say Hello (sudo on a loaded host).
const HELLO_ALLOWANCE: Duration = Duration::from_secs(15);

/// Why the OpenSSH transport got no session.
#[derive(Debug, thiserror::Error)]
pub enum OpensshError {
    #[error("failed to run `{program}` (is OpenSSH's client installed?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host}: ssh failed (exit status 255): {message}")]
    Ssh { host: String, message: String },
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl OpensshError {
    /// Worth trying again: ssh failed, but not on a host key or a refused login.
    pub fn is_transient(&self) -> bool {
        match self {
            OpensshError::Ssh { message, .. } => ![
                "Host key verification failed",
                "Permission denied",
                "REMOTE HOST IDENTIFICATION HAS CHANGED",
                "Bad configuration option",
            ]
            .iter()
            .any(|needle| message.contains(needle)),
            OpensshError::Spawn { .. } | OpensshError::Session(_) => false,
        }
    }
}

/// Opens sessions with the agent on one host through the system `ssh`.
#[derive(Debug, Clone)]
pub struct OpensshConnector {
    /// The HOST as typed, passed to ssh as is.
    host: String,
    args: SshArgs,
    accept_new_host_key: bool,
    /// No connection was made yet: ssh's messages are shown (see `open`).
    first_connection: bool,
    context: RemoteContext,
    command: String,
}

impl OpensshConnector {
    /// `label` names the host in messages; `user` is the login user (for sudoers hints).
    pub fn new(
        host: &str,
        label: &str,
        user: &str,
        args: SshArgs,
        accept_new_host_key: bool,
        agent_path: &str,
    ) -> OpensshConnector {
        OpensshConnector {
            host: host.to_owned(),
            args,
            accept_new_host_key,
            first_connection: true,
            context: RemoteContext {
                host: label.to_owned(),
                user: user.to_owned(),
                agent_path: agent_path.to_owned(),
            },
            command: agent_command(agent_path),
        }
    }

    /// The login user ssh would use for `host` (`ssh -G`), or `None` if it cannot say.
    pub fn probe_user(host: &str, args: &SshArgs) -> Option<String> {
        let output = std::process::Command::new(SSH_PROGRAM)
            .args(args.probe_argv(host))
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("user ").map(str::to_owned))
    }

    /// Runs ssh, starts the agent and exchanges Hellos.
    pub async fn open(&mut self) -> Result<Session, OpensshError> {
        let argv: Vec<OsString> =
            self.args
                .argv(&self.host, self.accept_new_host_key, &self.command);
        tracing::debug!(?argv, "running ssh");
        let channel = child::spawn(SSH_PROGRAM, &argv).map_err(|source| OpensshError::Spawn {
            program: SSH_PROGRAM.to_owned(),
            source,
        })?;
        // A key is learned on the first connection only: an automatic reconnect mid-run is strict.
        let first = std::mem::replace(&mut self.first_connection, false);
        self.accept_new_host_key = false;
        let exit = channel.exit.clone();
        let hello_timeout = self.args.connect_timeout + HELLO_ALLOWANCE;
        match session::start(channel, &self.context, hello_timeout).await {
            Ok(session) => {
                // What ssh said before the agent answered ("Permanently added …", a banner) is
                // for the user, as ssh shows it; on a reconnect it would break into the display.
                let said = exit.borrow().stderr.trim().to_owned();
                if first && !said.is_empty() {
                    eprintln!("{said}");
                }
                Ok(session)
            }
            Err(SessionError::Remote(failure))
                if matches!(*failure, RemoteFailure::AgentFailed { .. })
                    && exit.borrow().status == Some(SSH_FAILED) =>
            {
                Err(OpensshError::Ssh {
                    host: self.context.host.clone(),
                    message: exit.borrow().stderr.trim().to_owned(),
                })
            }
            Err(error) => Err(error.into()),
        }
    }
}
