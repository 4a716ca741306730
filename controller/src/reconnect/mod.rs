//! Following a run across lost connections: [`follow`].
//!
//! ```text
//!  send Run (or Attach) ──▶ Session::follow ──▶ RunFinished / Refused ──▶ done
//!                               │ Lost (EOF, keepalive timeout, broken pipe)
//!                               ▼
//!          run id known? ──no──▶ LostBeforeStart (exit 3: "check with status")
//!                               │ yes
//!                               ▼
//!   "connection lost, reconnecting (n/5)…", wait 1, 2, 4, 8, 8 s, connect (bounded by the
//!   connect timeout) ──▶ send Attach { run_id, after_seq: last seq shown } ──▶ follow again
//!                               │ every attempt failed
//!                               ▼
//!                GaveUp (exit 3, with the `attach` command to follow it later)
//! ```
//!
//! The run itself never depends on the connection (it belongs to PID 1 on the host), so a resumed
//! stream continues exactly where the display stopped: events up to `after_seq` are not sent again,
//! and any that are anyway are dropped by the display (the one place that filters by `seq`). A session that makes progress earns a fresh set of
//! attempts; a host key or login refusal stops at once, never retried blindly.

use std::future::Future;
use std::time::Duration;

use backup_orchestrator_proto::{LogLevel, Request};

use backup_orchestrator_render::error_chain;

use crate::error::CtlError;
use crate::feed::HostFeed;
use crate::hints::Hints;
use crate::session::follow::{RunEnd, RunTracker};
use crate::session::{Session, SessionError};

/// Opens a new session with the agent (connect, exec, Hello).
pub trait Connect {
    fn connect(&mut self) -> impl Future<Output = Result<Session, CtlError>>;
}

/// Waits before each reconnect attempt; the number of attempts is its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            delays: [1, 2, 4, 8, 8]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }
}

/// Sends `request` on `session` and follows the run to its end, reconnecting as needed.
pub async fn follow<C: Connect>(
    connector: &mut C,
    mut session: Session,
    request: Request,
    feed: &HostFeed,
    policy: &RetryPolicy,
    hints: &Hints,
) -> Result<RunEnd, CtlError> {
    let mut tracker = RunTracker::default();
    if let Request::Attach { run_id, .. } = &request {
        tracker.run_id.clone_from(run_id);
    }
    let mut request = request;
    let mut attempts = 0usize;
    loop {
        let seq_before = tracker.last_seq;
        let result = match session.send(&request).await {
            Ok(()) => {
                let mut on_event = |envelope| feed.event(envelope);
                session.follow(&mut tracker, &mut on_event).await
            }
            Err(lost) => Err(lost),
        };
        let reason = match result {
            Ok(end) => return Ok(end),
            Err(SessionError::Lost { reason, .. }) => reason,
            Err(error @ SessionError::Remote(_)) => return Err(error.into()),
        };
        tracing::debug!(%reason, "connection lost");
        if tracker.last_seq != seq_before {
            attempts = 0;
        }
        let Some(resume) = tracker.resume_request() else {
            return Err(CtlError::LostBeforeStart {
                host: hints.host.clone(),
                reason,
                status_hint: hints.status.clone(),
            });
        };
        drop(session);
        session = reconnect(connector, policy, feed, &mut attempts, reason, hints).await?;
        request = resume;
    }
}

/// Tries to get a new session, counting attempts in `attempts`.
async fn reconnect<C: Connect>(
    connector: &mut C,
    policy: &RetryPolicy,
    feed: &HostFeed,
    attempts: &mut usize,
    reason: String,
    hints: &Hints,
) -> Result<Session, CtlError> {
    let total = policy.delays.len();
    let mut last_error = reason;
    while *attempts < total {
        let delay = policy.delays[*attempts];
        *attempts += 1;
        let text = format!("connection lost, reconnecting ({}/{total})…", *attempts);
        feed.message(LogLevel::Warn, text);
        tokio::time::sleep(delay).await;
        match connector.connect().await {
            Ok(session) => return Ok(session),
            Err(error) if error.is_transient() => {
                last_error = error_chain(&error);
                tracing::debug!(error = %last_error, "reconnect attempt failed");
            }
            Err(error) => return Err(error),
        }
    }
    Err(CtlError::GaveUp {
        host: hints.host.clone(),
        attempts: total,
        last_error,
        attach_hint: hints.attach.clone(),
    })
}

#[cfg(test)]
mod tests;
