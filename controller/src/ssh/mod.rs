//! The SSH transport: from a HOST to a [`Session`] with its agent, in four steps of one concept each:
//!
//! ```text
//!  config::resolve ──▶ connect::connect ──────────────────────────▶ exec::spawn_agent ──▶ session::start
//!  (sshconf: ssh_config  (TCP, ProxyJump hops, known_hosts::verify,    (sudo -n AGENT serve,  (Hello)
//!   as OpenSSH reads it;  algorithms, auth::authenticate, keepalive,    stdout/stderr/exit)
//!   refuse: what native   timeout)
//!   cannot honour)
//! ```
//!
//! [`SshConnector::open`] runs them, and runs them again when `reconnect` asks (then strictly: a
//! host key is learned on the first connection only); it fails with an [`OpenError`], which the
//! application maps to an exit code. `dump` prints a resolution as `ssh -G` does.
//!
//! The types the steps share sit below them, in files of their own, so no step reaches up into
//! another: `endpoint` (what to connect to), `config_error`, `connect_error` (with `deadline`),
//! `supported` (russh's algorithm names); `sshconf::model` likewise for the config reader.

pub mod algorithms;
pub mod auth;
pub mod command;
pub mod config;
pub mod config_error;
pub mod connect;
pub mod connect_error;
pub mod deadline;
pub mod dump;
pub mod endpoint;
pub mod exec;
pub mod expand;
mod jump;
pub mod known_hosts;
pub mod pattern;
mod refuse;
pub mod sshconf;
pub mod supported;

use std::time::Duration;

use crate::remote::RemoteContext;
use crate::session::{self, Session, SessionError};
use connect_error::ConnectError;
use endpoint::Target;

/// The agent gets at least this long to say Hello (sudo can be slow to start on a loaded host).
const MIN_HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens sessions with the agent on one host.
#[derive(Debug, Clone)]
pub struct SshConnector {
    target: Target,
    context: RemoteContext,
    command: String,
}

impl SshConnector {
    pub fn new(target: Target, agent_path: &str) -> SshConnector {
        let context = RemoteContext {
            host: target.label.clone(),
            user: target.endpoint.user.clone(),
            agent_path: agent_path.to_owned(),
        };
        SshConnector {
            command: exec::agent_command(agent_path),
            target,
            context,
        }
    }
}

/// Why a session could not be opened: the SSH connection, or the agent behind it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Connect(Box<ConnectError>),
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<ConnectError> for OpenError {
    fn from(error: ConnectError) -> Self {
        OpenError::Connect(Box::new(error))
    }
}

impl SshConnector {
    /// Connects, starts the agent and exchanges Hellos.
    pub async fn open(&mut self) -> Result<Session, OpenError> {
        let connection = connect::connect(&self.target).await?;
        // A key is learned on the first connection only: an automatic reconnect mid-run is strict.
        for endpoint in self
            .target
            .jumps
            .iter_mut()
            .chain([&mut self.target.endpoint])
        {
            endpoint.host_key_policy = endpoint::HostKeyPolicy::Strict;
        }
        // Opening the channel gets a fresh allowance: the connect deadline was for connecting.
        let deadline = deadline::Deadline::after(self.target.connect_timeout);
        tracing::debug!(command = %self.command, "starting the agent");
        let channel = exec::spawn_agent(connection, &self.command, &deadline).await?;
        let hello_timeout = self.target.connect_timeout.max(MIN_HELLO_TIMEOUT);
        Ok(session::start(channel, &self.context, hello_timeout).await?)
    }
}
