//! Typed progress events: the one stream every front end renders (the agent's own terminal output,
//! the controller's bars, plain lines, JSON) and that the agent's event log stores on disk.
//!
//! Every event travels in an [`Envelope`] carrying a sequence number (so a reconnecting controller
//! asks for "everything after N" and shows no unit twice), a wall-clock timestamp and the time since
//! the run started.

use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, Tally};
use crate::summary::Summary;

/// One event with its place in the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// 0 for `RunStarted`, then +1 per event written: a gap-free order within a run. Events the
    /// agent could not write to its log (a full disk) get no number; a [`LogIncomplete`] says how
    /// many there were.
    pub seq: u64,
    /// Unix time in milliseconds when the agent emitted the event.
    pub at_ms: u64,
    /// Milliseconds since the run started.
    pub elapsed_ms: u64,
    pub event: Event,
}

/// What happened. Internally tagged (`"kind": "unit_started"`), with a catch-all so an older reader
/// survives a newer variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    RunStarted(RunStarted),
    PreflightCheck(PreflightCheck),
    StageStarted(StageStarted),
    StageFinished(StageFinished),
    UnitDiscovered(UnitRef),
    UnitSkipped(UnitSkipped),
    UnitStarted(UnitStarted),
    UnitFinished(UnitFinished),
    UnitTimedOut(UnitTimedOut),
    Log(Log),
    /// Events are missing from the log before this one (added within 1.0; older readers: `Unknown`).
    LogIncomplete(LogIncomplete),
    RunFinished(RunFinished),
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: String,
    pub host: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// `backup-orchestrator 0.1.0`.
    pub agent: String,
    #[serde(default)]
    pub dry_run: bool,
    pub plan: PlanOutline,
}

/// The plan as the run sees it, for display: what each stage will match and its limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutline {
    /// Where the plan came from: a file path, or `built-in default`.
    pub source: String,
    pub failure_threshold_percent: u32,
    #[serde(default)]
    pub stages: Vec<StageOutline>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageOutline {
    pub name: String,
    /// Unit names or glob patterns.
    pub units: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Most units of this stage running at once; 0 = no limit.
    pub parallel: u32,
    pub timeout_secs: u64,
    /// The stage's failures are warnings (`on_failure = "warn"`).
    #[serde(default)]
    pub warn_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCheck {
    pub path: String,
    pub min_free_bytes: u64,
    /// Free bytes for an unprivileged writer (statvfs `f_bavail`); `None` when the path could not be
    /// checked (see `error`).
    #[serde(default)]
    pub free_bytes: Option<u64>,
    pub passed: bool,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStarted {
    pub index: u32,
    pub name: String,
    /// The units discovered for this stage, in the order they will start.
    pub units: Vec<String>,
    pub parallel: u32,
    pub timeout_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageFinished {
    pub index: u32,
    pub name: String,
    pub successful: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub skipped: u32,
    #[serde(default)]
    pub warnings: u32,
    pub duration_ms: u64,
}

impl StageFinished {
    /// A finished stage with `tally`'s counts (the wire keeps them as flat fields).
    pub fn new(index: u32, name: String, tally: Tally, duration_ms: u64) -> StageFinished {
        StageFinished {
            index,
            name,
            successful: tally.successful,
            failed: tally.failed,
            timed_out: tally.timed_out,
            skipped: tally.skipped,
            warnings: tally.warnings,
            duration_ms,
        }
    }

    /// The stage's counts per outcome.
    pub fn tally(&self) -> Tally {
        Tally {
            successful: self.successful,
            failed: self.failed,
            timed_out: self.timed_out,
            skipped: self.skipped,
            warnings: self.warnings,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRef {
    pub stage: String,
    pub unit: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitSkipped {
    pub stage: String,
    pub unit: String,
    /// Human reason, e.g. `already activating (started by its timer)`.
    pub reason: String,
    /// systemd's `ActiveState` when the stage began.
    pub active_state: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitStarted {
    pub stage: String,
    pub unit: String,
    #[serde(default)]
    pub invocation_id: Option<String>,
    pub timeout_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFinished {
    pub stage: String,
    pub unit: String,
    pub outcome: Outcome,
    /// systemd's `Result` property (`success`, `exit-code`, `signal`, `timeout`, …).
    pub result: String,
    /// systemd's `ActiveState` after the job (`inactive`, `failed`, …).
    pub active_state: String,
    /// systemd's `ExecMainStatus`, when the main process ran.
    #[serde(default)]
    pub exit_status: Option<i32>,
    pub duration_ms: u64,
    /// For a failed unit: the last lines of this very invocation's journal (by its
    /// `InvocationID`), oldest first; see [`crate::summary::UnitReport::journal`] for the bounds.
    /// Since 1.1; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitTimedOut {
    pub stage: String,
    pub unit: String,
    pub timeout_secs: u64,
    /// Left running: backups are not killed unless the run was asked to stop units on timeout.
    pub still_running: bool,
    /// A stop job was queued for it (`--stop-units-on-timeout`).
    #[serde(default)]
    pub stop_requested: bool,
}

/// Severity of a [`Log`] line, as in the user's script (`[INFO]`, `[WARN]`, `[ERROR]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    pub level: LogLevel,
    pub message: String,
}

/// The agent could not append to its event log (a full disk, an I/O error) and dropped
/// `lost_events` events before this one; they went to the host's journal only. Written as soon as
/// the log takes appends again; a log that never does ends without it (and without a summary).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogIncomplete {
    /// The write error, e.g. `No space left on device (os error 28)`.
    pub reason: String,
    pub lost_events: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinished {
    pub summary: Summary,
}
