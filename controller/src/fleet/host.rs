//! One host's task: [`HostJob::follow`] connects, sends the request, follows the run across lost
//! connections, and ends by telling the display the summary or the error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backup_orchestrator_proto::{Request, Summary};

use crate::error::CtlError;
use crate::feed::HostFeed;
use crate::hints::Hints;
use crate::reconnect::{self, Connect, RetryPolicy};
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
        }
    }

    /// The host as shown: the key of its messages.
    pub fn host(&self) -> &str {
        &self.hints.host
    }

    /// Follows the run to its end and says how it ended on `feed`.
    pub async fn follow(mut self, feed: HostFeed) {
        match self.follow_run(&feed).await {
            Ok(summary) => feed.finished(summary),
            Err(error) => feed.failed(error),
        }
    }

    async fn follow_run(&mut self, feed: &HostFeed) -> Result<Summary, CtlError> {
        let session = self.connector.connect().await?;
        if matches!(self.request, Request::Attach { .. }) {
            session.require("attach")?;
        }
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
