//! The plan as the engine reads it, validated: [`Plan`], its [`Stage`]s and [`DiskCheck`]s.
//! Reading and checking one is `parse.rs`; the built-in plan and loading are in the module root.

use std::path::PathBuf;
use std::time::Duration;

/// A validated plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The file it was read from, or [`BUILTIN_SOURCE`].
    pub source: String,
    /// Above this failure rate the run is critical (exit 2).
    pub failure_threshold_percent: u32,
    pub preflight: Vec<DiskCheck>,
    pub stages: Vec<Stage>,
    /// What every run leaves for monitoring: a Prometheus textfile, hooks.
    pub monitoring: Monitoring,
}

/// `[monitoring]` and the `[[hook]]`s: what a run tells the world besides its own output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Monitoring {
    /// `[monitoring] textfile`: rewritten at the end of every run, for node_exporter's textfile
    /// collector.
    pub textfile: Option<PathBuf>,
    pub hooks: Vec<Hook>,
}

/// `[[hook]]`: a program run as root at some moments of a run, with the run's JSON on stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub when: Vec<HookWhen>,
    /// Program (an absolute path) and arguments; no shell.
    pub command: Vec<String>,
    /// Killed (its whole process group) after this.
    pub timeout: Duration,
}

/// When a [`Hook`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookWhen {
    /// The run has started (stdin: the `run_started` event).
    Start,
    /// The run ended with exit code 0 (stdin: the summary, as for all below).
    Success,
    /// Exit code 1.
    Partial,
    /// Exit code 2: critical, a failed preflight included.
    Failure,
    /// Every run's end, whatever its verdict.
    Finish,
}

impl HookWhen {
    /// Whether a hook for `self` runs at the end of a run that exited `exit_code`.
    pub fn at_end(self, exit_code: i32) -> bool {
        match self {
            HookWhen::Start => false,
            HookWhen::Success => exit_code == 0,
            HookWhen::Partial => exit_code == 1,
            HookWhen::Failure => exit_code == 2,
            HookWhen::Finish => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HookWhen::Start => "start",
            HookWhen::Success => "success",
            HookWhen::Partial => "partial",
            HookWhen::Failure => "failure",
            HookWhen::Finish => "finish",
        }
    }
}

/// "`path` must have at least `min_free_bytes` free" (for an unprivileged writer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskCheck {
    pub path: PathBuf,
    pub min_free_bytes: u64,
}

/// A group of units started together, after the previous stage has finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    /// Unit names or glob patterns.
    pub units: Vec<String>,
    /// Glob patterns of units not to run even though `units` matches them.
    pub exclude: Vec<String>,
    /// Most units running at once; 0 = no limit.
    pub parallel: u32,
    /// Per unit, from its start.
    pub timeout: Duration,
    /// `on_failure = "warn"`: a failure is a warning, never a failure of the run.
    pub warn_only: bool,
}
