//! The agent's standard streams, however they are carried: [`AgentChannel`], and what the remote
//! process left besides stdout, [`RemoteExit`].
//!
//! The SSH transports (`ssh/exec.rs` over russh, `openssh/child.rs` over the system ssh) produce a
//! channel, the session (`session/`) consumes it, and the tests make one in memory: this file is the one thing all three share, so none of them
//! imports another for it.

use std::any::Any;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// What the remote process left besides stdout: stderr, exit status, whether it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteExit {
    /// The start of its stderr (capped), lossily decoded.
    pub stderr: String,
    pub status: Option<u32>,
    pub signal: Option<String>,
    /// The server refused to run the command at all.
    pub exec_refused: bool,
    /// The channel is closed: nothing more will arrive.
    pub finished: bool,
}

/// The agent's standard streams, however they are carried.
pub struct AgentChannel {
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    pub exit: watch::Receiver<RemoteExit>,
    /// Whatever must live as long as the streams (the SSH connection and its jump hosts).
    pub keep_alive: Box<dyn Any + Send>,
}

impl std::fmt::Debug for AgentChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentChannel").finish_non_exhaustive()
    }
}
