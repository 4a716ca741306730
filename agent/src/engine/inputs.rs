//! What a caller hands the engine besides the plan and systemd: [`EngineOptions`], a
//! [`RunEventSink`] for its events, and a [`Cancel`] to stop it early.

use backup_orchestrator_proto::event::Event;
use tokio_util::sync::CancellationToken;

/// Receives the run's events in order. The caller wraps each in an `Envelope` (sequence
/// number, timestamps).
pub trait RunEventSink {
    fn emit(&mut self, event: Event);
}

/// Collects the events, for tests and one-shot callers.
impl RunEventSink for Vec<Event> {
    fn emit(&mut self, event: Event) {
        self.push(event);
    }
}

/// How to run, and the run's identity (echoed in `RunStarted` and the summary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// Preflight, discovery and skips as usual, but start and stop nothing: the units that
    /// would start are reported `planned`.
    pub dry_run: bool,
    /// Queue a stop job for a unit that passes its stage's timeout (by default it is left
    /// running: a slow backup is better than a killed one).
    pub stop_units_on_timeout: bool,
    pub host: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
}

/// Cancellation of a run in progress; see the module doc. Clones share their state: hand one to
/// [`super::execute`], call [`Cancel::start_no_more`] or [`Cancel::stop_units`] on another. Both are
/// idempotent and may be called before the run starts.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    pub(super) start_no_more: CancellationToken,
    pub(super) stop_units: CancellationToken,
    pub(super) finish_now: CancellationToken,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Start no more units; the running ones go on and are waited for.
    pub fn start_no_more(&self) {
        self.start_no_more.cancel();
    }

    /// Start no more units, and queue a stop job for every running unit of the run.
    pub fn stop_units(&self) {
        self.start_no_more.cancel();
        self.stop_units.cancel();
    }

    /// Start no more units, wait for nothing: the summary is made at once, the running units
    /// left running (`still_running`). For SIGTERM, which gives the process seconds to live.
    pub fn finish_now(&self) {
        self.start_no_more.cancel();
        self.finish_now.cancel();
    }

    /// Any of them was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.start_no_more.is_cancelled()
            || self.stop_units.is_cancelled()
            || self.finish_now.is_cancelled()
    }

    /// [`Cancel::stop_units`] was asked for.
    pub fn is_stopping_units(&self) -> bool {
        self.stop_units.is_cancelled()
    }
}
