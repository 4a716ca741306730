//! After the Hellos: what the controller asks ([`Request`]) and what the agent answers ([`Reply`]).
//!
//! A request names an action, never a command line: the agent only ever starts units its own plan on
//! the host allows, whatever a request says.

use serde::{Deserialize, Serialize};

use crate::event::Envelope;
use crate::summary::Summary;

/// Controller → agent, exactly one per session, after the Hellos.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Start a run of the host's plan and stream its events.
    Run(RunOptions),
    /// Stream the events of the current run, or of the last one if none is running, starting after
    /// `after_seq` (`None`: from the start).
    Attach {
        #[serde(default)]
        run_id: Option<String>,
        #[serde(default)]
        after_seq: Option<u64>,
    },
    /// One [`Reply::Status`] about the running or last run.
    Status,
    /// Start no more units in the running run; with `stop_units`, also stop the running ones.
    Cancel {
        #[serde(default)]
        stop_units: bool,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Show what would run; start nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Stop a unit when it passes its stage's timeout (the default leaves backups running).
    #[serde(default)]
    pub stop_units_on_timeout: bool,
}

/// Agent → controller, after the Hellos.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// One event of the run being followed. A run's stream ends with `Event::RunFinished`.
    Event(Envelope),
    Status(StatusReport),
    Cancelled {
        run_id: String,
        stop_units: bool,
    },
    /// The request could not be carried out; the session ends after this.
    Refused(Refusal),
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// A sentence for the user, saying what to do.
    pub message: String,
    /// The run concerned (e.g. the one already in progress).
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    /// The exit code the front end should end with.
    pub exit_code: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Another run is in progress on this host (exit 3).
    RunInProgress,
    /// Nothing to attach to, status of, or cancel.
    NoRun,
    /// The host's plan file is malformed (exit 64).
    PlanInvalid,
    /// The request is not one this agent understands (an older agent).
    Unsupported,
    /// The agent failed on the host (D-Bus unreachable, log not writable, …).
    Internal,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub state: RunState,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    /// Units finished (any outcome) and units discovered so far.
    #[serde(default)]
    pub units_done: u32,
    #[serde(default)]
    pub units_total: u32,
    /// Units running right now.
    #[serde(default)]
    pub running: Vec<String>,
    /// The finished run's summary.
    #[serde(default)]
    pub summary: Option<Summary>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Finished,
    /// The run's process ended without writing a summary (killed, host rebooted).
    Abandoned,
    /// No run on this host yet.
    None,
    #[serde(other)]
    Unknown,
}
