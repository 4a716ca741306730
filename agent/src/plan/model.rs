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
