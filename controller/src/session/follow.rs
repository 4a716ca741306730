//! Following a run on one session: [`Session::follow`], and where the run is, [`RunTracker`].
//!
//! Every envelope received is passed on, a replayed one included: the display drops what it has
//! already shown (the render crate's run view is the one place that filters by `seq`). The tracker
//! only remembers the run's id and the highest `seq` received, which is what a new session asks to
//! continue after.

use backup_orchestrator_proto::{Envelope, Event, Refusal, Reply, Request, Summary};

use super::{Session, SessionError};

/// How a followed run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    Finished(Summary),
    Refused(Refusal),
}

/// Where a followed run is, so a new session can pick it up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunTracker {
    pub run_id: Option<String>,
    /// The highest `seq` received.
    pub last_seq: Option<u64>,
}

impl RunTracker {
    /// The request that continues this run on a new connection, if the run is known.
    pub fn resume_request(&self) -> Option<Request> {
        self.run_id.as_ref().map(|run_id| Request::Attach {
            run_id: Some(run_id.clone()),
            after_seq: self.last_seq,
        })
    }

    fn saw(&mut self, envelope: &Envelope) {
        if let Event::RunStarted(started) = &envelope.event {
            self.run_id = Some(started.run_id.clone());
        }
        self.last_seq = Some(
            self.last_seq
                .map_or(envelope.seq, |last| last.max(envelope.seq)),
        );
    }
}

impl Session {
    /// Passes a run's events to `on_event` until its summary or a refusal, noting in `tracker`
    /// where the run is.
    pub async fn follow(
        &mut self,
        tracker: &mut RunTracker,
        on_event: &mut dyn FnMut(Envelope),
    ) -> Result<RunEnd, SessionError> {
        loop {
            let reply = match self.next_reply().await? {
                Some(reply) => reply,
                None => return Err(self.lost(self.lost_reason())),
            };
            match reply {
                Reply::Event(envelope) => {
                    tracker.saw(&envelope);
                    let summary = match &envelope.event {
                        Event::RunFinished(finished) => Some(finished.summary.clone()),
                        _ => None,
                    };
                    on_event(envelope);
                    if let Some(summary) = summary {
                        return Ok(RunEnd::Finished(summary));
                    }
                }
                Reply::Refused(refusal) => return Ok(RunEnd::Refused(refusal)),
                other => return Err(self.unexpected(&other)),
            }
        }
    }
}
