//! One host's work: [`HostJob::check`] connects and checks it (host key, auth, sudo, Hello), then
//! [`HostJob::follow`] sends the request on that session, follows the run across lost
//! connections, and ends by telling the display the summary or the error;
//! [`HostJob::check_and_follow`] does both in one go, when nobody is asked in between.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backup_orchestrator_proto::{Request, Summary};
use backup_orchestrator_render::error_chain;
use tokio::sync::Semaphore;

use crate::error::CtlError;
use crate::feed::HostFeed;
use crate::hints::Hints;
use crate::reconnect::{self, Connect, RetryPolicy};
use crate::session::Session;
use crate::session::follow::RunEnd;

/// A host to follow: how to reach it, what to ask, what to tell the user.
#[derive(Debug)]
pub struct HostJob<C> {
    pub connector: C,
    pub request: Request,
    pub hints: Hints,
    /// Set once the request may have reached the agent: from then on, Ctrl-C leaves a run behind
    /// on the host, and the message says how to attach to it.
    pub run_may_exist: Arc<AtomicBool>,
    /// The checked session, or why there is none; `None` until [`HostJob::check`].
    checked: Option<Result<Session, CtlError>>,
}

/// How a host's check ended, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub host: String,
    /// Why the host cannot run (the message a user sees), or `None` when it can.
    pub error: Option<String>,
}

impl<C: Connect> HostJob<C> {
    pub fn new(connector: C, request: Request, hints: Hints) -> HostJob<C> {
        // An attach is about a run that already exists.
        let attach = matches!(request, Request::Attach { .. });
        HostJob {
            connector,
            request,
            hints,
            run_may_exist: Arc::new(AtomicBool::new(attach)),
            checked: None,
        }
    }

    /// The host as shown: the key of its messages.
    pub fn host(&self) -> &str {
        &self.hints.host
    }

    /// Connects and checks that the request can be made; the session is kept for
    /// [`HostJob::follow`].
    pub async fn check(&mut self) {
        self.checked = Some(self.open().await);
    }

    pub fn outcome(&self) -> CheckOutcome {
        CheckOutcome {
            host: self.hints.host.clone(),
            error: match &self.checked {
                Some(Err(error)) => Some(error_chain(error)),
                _ => None,
            },
        }
    }

    async fn open(&mut self) -> Result<Session, CtlError> {
        let session = self.connector.connect().await;
        let session = session.and_then(|session| {
            if matches!(self.request, Request::Attach { .. }) {
                session.require("attach")?;
            }
            Ok(session)
        });
        if let Err(error) = &session {
            tracing::debug!(host = %self.hints.host, error = %error_chain(error), "check failed");
        }
        session
    }

    /// Follows the run to its end on the checked session, holding a permit of `limit` while it
    /// runs, and says how it ended on `feed`. A host that failed its check says so at once,
    /// without a permit.
    pub async fn follow(mut self, feed: HostFeed, limit: Arc<Semaphore>) {
        let session = match self.checked.take() {
            Some(Err(error)) => return feed.failed(error),
            Some(Ok(session)) => Some(session),
            None => None,
        };
        // Never closed: acquiring fails only on a closed semaphore.
        let _permit = limit.acquire().await;
        let session = match session {
            Some(session) => Ok(session),
            None => self.open().await,
        };
        self.follow_session(session, &feed).await;
    }

    /// Connects, checks and follows the run to its end, holding one permit of `limit` from the
    /// connect to the end, and says how it ended on `feed`.
    pub async fn check_and_follow(mut self, feed: HostFeed, limit: Arc<Semaphore>) {
        // Never closed: acquiring fails only on a closed semaphore.
        let _permit = limit.acquire().await;
        let session = self.open().await;
        self.follow_session(session, &feed).await;
    }

    async fn follow_session(&mut self, session: Result<Session, CtlError>, feed: &HostFeed) {
        let result = match session {
            Ok(session) => self.follow_run(session, feed).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(summary) => feed.finished(summary),
            Err(error) => feed.failed(error),
        }
    }

    async fn follow_run(&mut self, session: Session, feed: &HostFeed) -> Result<Summary, CtlError> {
        self.run_may_exist.store(true, Ordering::SeqCst);
        let end = reconnect::follow(
            &mut self.connector,
            session,
            self.request.clone(),
            feed,
            &RetryPolicy::default(),
            &self.hints,
        )
        .await?;
        match end {
            RunEnd::Finished(summary) => Ok(summary),
            RunEnd::Refused(refusal) => Err(CtlError::Refused {
                host: self.hints.host.clone(),
                refusal: Box::new(refusal),
                attach_hint: Some(self.hints.attach.clone()),
            }),
        }
    }
}
