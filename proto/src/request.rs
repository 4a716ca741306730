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
    /// One [`Reply::Logs`]: the journal of `unit`'s last invocation, its last `lines` lines (at
    /// most [`MAX_LOG_LINES`]). Only for a unit the host's plan names; refused
    /// ([`RefusalKind::NotInPlan`]) otherwise. Since 1.1 (capability `logs`).
    Logs {
        unit: String,
        #[serde(default = "default_log_lines")]
        lines: u32,
    },
    /// One [`Reply::History`]: the runs kept on the host. Since 1.1 (capability `history`).
    History,
    #[serde(other)]
    Unknown,
}

/// Lines a [`Request::Logs`] gets when it asks for none in particular.
pub const DEFAULT_LOG_LINES: u32 = 50;
/// Lines a [`Reply::Logs`] carries at most (each cut to
/// [`crate::summary::JOURNAL_LINE_BYTES`]), so the reply fits a frame.
pub const MAX_LOG_LINES: u32 = 1000;

fn default_log_lines() -> u32 {
    DEFAULT_LOG_LINES
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
    /// The answer to [`Request::Logs`] (since 1.1).
    Logs(UnitLogs),
    /// The answer to [`Request::History`] (since 1.1).
    History(RunHistory),
    #[serde(other)]
    Unknown,
}

/// A unit's journal, as [`Request::Logs`] asked for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitLogs {
    pub unit: String,
    /// The invocation the lines are from; `None` when systemd had none for the unit (never ran
    /// since boot): the lines are then the unit's latest, whatever the invocation.
    #[serde(default)]
    pub invocation_id: Option<String>,
    /// Oldest first, without timestamps (`journalctl -o cat`).
    #[serde(default)]
    pub lines: Vec<String>,
}

/// The runs kept on the host, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHistory {
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

/// One kept run, for [`RunHistory`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub started_at: Option<String>,
    /// `Finished` (with its summary's numbers below), `Running`, or `Abandoned`.
    pub state: RunState,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The run's verdict (0, 1, 2) once finished.
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub total_services: u32,
    #[serde(default)]
    pub successful: u32,
    #[serde(default)]
    pub failed: u32,
    #[serde(default)]
    pub timed_out: u32,
    #[serde(default)]
    pub skipped: u32,
    #[serde(default)]
    pub warnings: u32,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub critical_reason: Option<String>,
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
    /// The unit asked about is not one the host's plan names (exit 64). Since 1.1.
    NotInPlan,
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
