//! One conversation with `backup-orchestrator serve` over any byte stream: [`Session`].
//!
//! ```text
//!  AgentChannel (SSH exec channel, or a duplex pipe in tests)
//!   stdin  ◀── FramedWrite ◀── Hello, then exactly one Request
//!   stdout ──▶ FramedRead<MessageCodec> ──▶ Hello ──check──▶ Reply, Reply, …
//!   stderr, exit status ──▶ RemoteExit (watch) ──▶ diagnose: sudo? agent missing? garbage?
//! ```
//!
//! [`start`] exchanges Hellos and turns every way the start can fail (sudo asking for a password,
//! no agent, an incompatible agent, text on the wire, silence) into a [`RemoteFailure`].
//! [`Session::follow`] (`follow.rs`) passes a run's events on until `RunFinished` or a `Refusal`;
//! a stream that ends before either is [`SessionError::Lost`], which `reconnect` answers with
//! `Attach { run_id, after_seq }`.
//!
//! The session returns its own [`SessionError`]; what a failure means for the process (its exit
//! code) is the application's to decide. It knows nothing of SSH, so the tests drive it with an
//! in-memory fake agent.

pub mod follow;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::time::Duration;

use backup_orchestrator_proto::{FrameError, Hello, MessageCodec, Reply, Request, Role};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::remote::{RemoteContext, RemoteFailure, classify_start_failure};
use crate::transport::{AgentChannel, RemoteExit};

/// How long to wait for the remote process's exit status once its stdout ended.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// `backup-orchestrator-ctl 0.1.0`, sent in our Hello and shown in version messages.
pub fn software() -> String {
    format!("backup-orchestrator-ctl {}", env!("CARGO_PKG_VERSION"))
}

/// Why a session could not start or stopped before its answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The stream ended or broke: reconnecting and attaching may continue a run.
    #[error("{host}: the connection was lost: {reason}")]
    Lost { host: String, reason: String },
    /// The agent could not be started or spoken to, or said something that makes no sense.
    #[error(transparent)]
    Remote(Box<RemoteFailure>),
}

impl From<RemoteFailure> for SessionError {
    fn from(failure: RemoteFailure) -> Self {
        SessionError::Remote(Box::new(failure))
    }
}

/// A session past the Hello exchange.
pub struct Session {
    replies: FramedRead<Box<dyn AsyncRead + Send + Unpin>, MessageCodec<Reply>>,
    requests: FramedWrite<Box<dyn AsyncWrite + Send + Unpin>, MessageCodec<()>>,
    exit: watch::Receiver<RemoteExit>,
    peer: Hello,
    context: RemoteContext,
    _keep_alive: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Sends our Hello, reads and checks the agent's; `hello_timeout` bounds the wait for it.
pub async fn start(
    channel: AgentChannel,
    context: &RemoteContext,
    hello_timeout: Duration,
) -> Result<Session, SessionError> {
    let AgentChannel {
        stdout,
        stdin,
        mut exit,
        keep_alive,
    } = channel;
    let mut requests = FramedWrite::new(stdin, MessageCodec::<()>::new());
    let ours = Hello::new(Role::Controller, software());
    // A failed write (the remote already gone: sudo refused, no agent) is diagnosed from what
    // the read below sees, with the remote's stderr and exit status.
    if let Err(e) = requests.send(&ours).await {
        tracing::debug!(error = %e, "could not send our Hello");
    }
    let mut hellos = FramedRead::new(stdout, MessageCodec::<Hello>::new());
    let first = tokio::time::timeout(hello_timeout, hellos.next()).await;
    let peer = match first {
        Ok(Some(Ok(hello))) => hello,
        Ok(Some(Err(FrameError::UnexpectedText { text }))) => {
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, Some(&text), &remote).into());
        }
        Ok(Some(Err(FrameError::Garbage { preview }))) => {
            return Err(RemoteFailure::Garbage {
                host: context.host.clone(),
                seen: format!("bytes {preview}"),
            }
            .into());
        }
        Ok(Some(Err(FrameError::Decode { len, source }))) => {
            return Err(RemoteFailure::Garbage {
                host: context.host.clone(),
                seen: format!("a {len}-byte frame that is not a Hello ({source})"),
            }
            .into());
        }
        Ok(Some(Err(other))) => {
            tracing::debug!(error = %other, "the stream broke before the agent's Hello");
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, None, &remote).into());
        }
        Ok(None) => {
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, None, &remote).into());
        }
        Err(_elapsed) => {
            return Err(RemoteFailure::NoHello {
                host: context.host.clone(),
                secs: hello_timeout.as_secs(),
                stderr: exit.borrow().stderr.clone(),
            }
            .into());
        }
    };
    if let Err(source) = peer.check_compatible(&ours) {
        return Err(RemoteFailure::Incompatible {
            host: context.host.clone(),
            source,
        }
        .into());
    }
    tracing::debug!(agent = %peer.software, protocol = %peer.protocol, "agent said hello");
    Ok(Session {
        replies: hellos.map_decoder(MessageCodec::retype),
        requests,
        exit,
        peer,
        context: context.clone(),
        _keep_alive: keep_alive,
    })
}

/// The remote's exit, waiting briefly for the channel to close.
async fn wait_exit(exit: &mut watch::Receiver<RemoteExit>) -> RemoteExit {
    let _ = tokio::time::timeout(EXIT_GRACE, exit.wait_for(|e| e.finished)).await;
    exit.borrow().clone()
}

impl Session {
    /// What the agent calls itself in its Hello (`backup-orchestrator 0.1.0`).
    pub fn peer_software(&self) -> &str {
        &self.peer.software
    }

    /// Refuses early when the agent lacks a capability the request needs.
    pub fn require(&self, capability: &str) -> Result<(), SessionError> {
        if self.peer.has_capability(capability) {
            Ok(())
        } else {
            Err(RemoteFailure::MissingCapability {
                host: self.context.host.clone(),
                capability: capability.to_owned(),
                agent: self.peer.software.clone(),
            }
            .into())
        }
    }

    /// Sends the session's one request.
    pub async fn send(&mut self, request: &Request) -> Result<(), SessionError> {
        let result = self.requests.send(request).await;
        result.map_err(|e| self.lost(format!("sending the request failed: {e}")))
    }

    /// The one reply to a Status or Cancel request.
    pub async fn single_reply(&mut self) -> Result<Reply, SessionError> {
        match self.next_reply().await? {
            Some(reply) => Ok(reply),
            None => Err(self.lost(self.lost_reason())),
        }
    }

    /// A reply that makes no sense for the request sent.
    pub fn unexpected(&self, reply: &Reply) -> SessionError {
        let kind = match reply {
            Reply::Event(_) => "an event",
            Reply::Status(_) => "a status report",
            Reply::Cancelled { .. } => "a cancel confirmation",
            Reply::Refused(_) => "a refusal",
            Reply::Logs(_) => "a unit's journal",
            Reply::History(_) => "a run history",
            Reply::Unknown => "a reply this version does not know",
        };
        RemoteFailure::Unexpected {
            host: self.context.host.clone(),
            agent: self.peer.software.clone(),
            reply: kind.to_owned(),
        }
        .into()
    }

    /// The next reply; `Ok(None)` at a clean end of the stream.
    async fn next_reply(&mut self) -> Result<Option<Reply>, SessionError> {
        match self.replies.next().await {
            None => Ok(None),
            Some(Ok(reply)) => Ok(Some(reply)),
            Some(Err(error)) => Err(self.stream_error(error)),
        }
    }

    /// A broken stream is lost (reconnect); text or garbage on it is not.
    fn stream_error(&self, error: FrameError) -> SessionError {
        match error {
            FrameError::Io(e) => self.lost(e.to_string()),
            FrameError::Truncated { .. } => self.lost(error.to_string()),
            FrameError::UnexpectedText { text } => RemoteFailure::Garbage {
                host: self.context.host.clone(),
                seen: format!("text {text:?}"),
            }
            .into(),
            other => RemoteFailure::Garbage {
                host: self.context.host.clone(),
                seen: other.to_string(),
            }
            .into(),
        }
    }

    fn lost(&self, reason: String) -> SessionError {
        SessionError::Lost {
            host: self.context.host.clone(),
            reason,
        }
    }

    /// Why the stream ended early, with the remote's stderr when it said something.
    fn lost_reason(&self) -> String {
        let exit = self.exit.borrow().clone();
        let mut reason = String::from("the stream ended before the run's summary");
        if let Some(status) = exit.status {
            reason.push_str(&format!(" (the agent exited with status {status})"));
        }
        if let Some(signal) = &exit.signal {
            reason.push_str(&format!(" (the agent was killed by signal {signal})"));
        }
        let stderr = exit.stderr.trim();
        if !stderr.is_empty() {
            reason.push_str(&format!("; its stderr: {stderr}"));
        }
        reason
    }
}
