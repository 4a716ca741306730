//! The host's backup plan: [`Plan`], read from `/etc/backup-orchestrator/plan.toml`.
//!
//! The plan is the agent's whole authority: a run starts only units that one of its stages matches
//! (see [`Plan::allows`]), whatever a controller asks. Without a plan file the agent uses
//! [`Plan::builtin_default`], the stages of the user's original script.
//!
//! # File format
//!
//! ```toml
//! # Above this failure rate (failed + timed out, in percent of all units) the run is
//! # critical (exit 2); at or below it, partial (exit 1). 0-100, default 50.
//! failure_threshold_percent = 50
//!
//! # Checked before anything starts; any failure is critical and nothing is started.
//! [[preflight.disk]]
//! path = "/mnt/nas-backup"
//! min_free = "50G"              # bytes, or K/M/G/T (powers of 1024; "50GiB", "50GB" too)
//!
//! [[preflight.disk]]
//! path = "/mnt/nas-postgresql"
//! min_free = "20G"
//!
//! # Stages run in order; a stage's failures never stop the later ones.
//! [[stage]]
//! name = "snapshots"             # unique, required
//! units = ["sanoid.service"]     # unit names or glob patterns (* ? [...]), at least one
//! timeout = "5m"                 # per unit: "90s", "5m", "1h", "1h 30m"; default "1h"
//! on_failure = "warn"            # "fail" (default) or "warn": a failure is only a warning
//!
//! [[stage]]
//! name = "replication"
//! units = ["syncoid-*.service"]
//! exclude = ["*replication-info*", "*target-reachability*"]  # glob patterns
//! parallel = 0                   # units running at once; 0 = no limit; default 1
//! timeout = "30m"
//! ```
//!
//! # Monitoring (optional)
//!
//! ```toml
//! # Rewritten at the end of every run (dry runs included), atomically, mode 0644: point
//! # node_exporter's textfile collector at its directory.
//! [monitoring]
//! textfile = "/var/lib/prometheus-node-exporter/backup-orchestrator.prom"
//!
//! # Run as root, no shell, with the run's JSON on stdin (`start`: the run_started event; the
//! # others: the summary) and RUN_ID, HOST, EXIT_CODE (not for `start`) in the environment.
//! # A hook that fails or times out is a warning; it never changes the verdict. Not for dry runs.
//! [[hook]]
//! when = "start"                # "start", "success" (exit 0), "partial" (1), "failure" (2),
//!                               # "finish" (every run); one or a list: ["partial", "failure"]
//! command = ["/run/current-system/sw/bin/curl", "-fsS", "-m", "10", "--data-binary", "@-",
//!            "https://hc-ping.com/UUID/start"]
//! timeout = "30s"               # default; then its whole process group is killed
//!
//! [[hook]]
//! when = ["partial", "failure"]
//! command = ["/run/current-system/sw/bin/curl", "-fsS", "-m", "10", "--data-binary", "@-",
//!            "https://hc-ping.com/UUID/fail"]
//! ```
//!
//! Unknown keys are refused, and every error names the file, line and column
//! (`/etc/backup-orchestrator/plan.toml:7:1: unknown field `paralel`, expected one of …`).
//!
//! Unit patterns are matched by [`pattern`] (unit file names in systemd's search path) and by
//! systemd (`ListUnitsByPatterns`, loaded units) with the same shell-glob meaning.

mod model;
mod parse;
pub mod pattern;
mod trust;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backup_orchestrator_proto::event::{PlanOutline, StageOutline};

pub use model::{DiskCheck, Hook, HookWhen, Monitoring, Plan, Stage};
pub use parse::PlanError;
pub use trust::running_as_root;

/// Where the agent looks for the host's plan.
pub const DEFAULT_PLAN_PATH: &str = "/etc/backup-orchestrator/plan.toml";

/// [`Plan::source`] of [`Plan::builtin_default`].
pub const BUILTIN_SOURCE: &str = "built-in default";

const GIB: u64 = 1024 * 1024 * 1024;

impl Plan {
    /// Reads and validates the plan at `path`, which must exist. Running as root, the file must
    /// be root's alone ([`PlanError::Untrusted`] otherwise; see `trust.rs`).
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        Plan::read(path, trust::running_as_root())
    }

    /// Like [`Plan::load`]; `enforce_ownership` chooses whether the file's owner and mode are
    /// checked (`check-plan --no-host` only reads).
    pub fn read(path: &Path, enforce_ownership: bool) -> Result<Plan, PlanError> {
        let text = trust::read_trusted(path, enforce_ownership)?;
        Plan::parse(&text, &path.display().to_string())
    }

    /// Like [`Plan::load`], but a missing file gives [`Plan::builtin_default`]. For the default
    /// path only: a plan the user named explicitly must exist ([`Plan::load`]).
    pub fn load_or_default(path: &Path) -> Result<Plan, PlanError> {
        match Plan::load(path) {
            Err(PlanError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(Plan::builtin_default())
            }
            other => other,
        }
    }

    /// The plan a command uses: `chosen` (`--plan FILE`, must exist), else the default path if it
    /// exists, else the built-in plan.
    pub fn load_chosen(chosen: Option<&Path>) -> Result<Plan, PlanError> {
        match chosen {
            Some(path) => {
                Plan::load(&std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
            }
            None => Plan::load_or_default(Path::new(DEFAULT_PLAN_PATH)),
        }
    }

    /// The plan file a run started elsewhere must read (the one this was loaded from), `None` for
    /// the built-in plan.
    pub fn file(&self) -> Option<&Path> {
        (self.source != BUILTIN_SOURCE).then(|| Path::new(self.source.as_str()))
    }

    /// Parses and validates plan text; `source` names it in errors and in [`Plan::source`].
    pub fn parse(text: &str, source: &str) -> Result<Plan, PlanError> {
        parse::parse(text, source)
    }

    /// The user's original script as a plan: preflight of the two NAS mounts, then sanoid (a
    /// warning only), all syncoid jobs at once, the pgBackRest full backup alone, and the restic
    /// jobs three at a time.
    pub fn builtin_default() -> Plan {
        let stage = |name: &str, units: &[&str], parallel: u32, minutes: u64| Stage {
            name: name.to_owned(),
            units: units.iter().map(|u| (*u).to_owned()).collect(),
            exclude: Vec::new(),
            parallel,
            timeout: Duration::from_secs(minutes * 60),
            warn_only: false,
        };
        let snapshots = Stage {
            warn_only: true,
            ..stage("snapshots", &["sanoid.service"], 1, 5)
        };
        let replication = Stage {
            exclude: vec![
                "*replication-info*".to_owned(),
                "*target-reachability*".to_owned(),
            ],
            ..stage("replication", &["syncoid-*.service"], 0, 30)
        };
        Plan {
            source: BUILTIN_SOURCE.to_owned(),
            failure_threshold_percent: 50,
            preflight: vec![
                DiskCheck {
                    path: PathBuf::from("/mnt/nas-backup"),
                    min_free_bytes: 50 * GIB,
                },
                DiskCheck {
                    path: PathBuf::from("/mnt/nas-postgresql"),
                    min_free_bytes: 20 * GIB,
                },
            ],
            stages: vec![
                snapshots,
                replication,
                stage("postgresql", &["pgbackrest-full-backup.service"], 1, 60),
                stage("restic", &["restic-backup-*.service"], 3, 45),
            ],
            monitoring: Monitoring::default(),
        }
    }

    /// The plan as `RunStarted` shows it.
    pub fn outline(&self) -> PlanOutline {
        PlanOutline {
            source: self.source.clone(),
            failure_threshold_percent: self.failure_threshold_percent,
            stages: self
                .stages
                .iter()
                .map(|s| StageOutline {
                    name: s.name.clone(),
                    units: s.units.clone(),
                    exclude: s.exclude.clone(),
                    parallel: s.parallel,
                    timeout_secs: s.timeout.as_secs(),
                    warn_only: s.warn_only,
                })
                .collect(),
        }
    }

    /// Whether some stage may start `unit`: one of its patterns matches it and none of its
    /// excludes does. Template units (`foo@.service`) are never allowed.
    pub fn allows(&self, unit: &str) -> bool {
        !pattern::is_template(unit) && self.stages.iter().any(|s| s.allows(unit))
    }
}

impl Stage {
    /// Whether this stage's patterns match `unit` and its excludes do not.
    pub fn allows(&self, unit: &str) -> bool {
        pattern::matches_any(&self.units, unit) && !pattern::matches_any(&self.exclude, unit)
    }
}

#[cfg(test)]
mod tests;
