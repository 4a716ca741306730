//! The run's result: [`Summary`] (also the `--json` output of both binaries) and the [`Verdict`]
//! that turns unit outcomes into an exit code.
//!
//! # JSON schema (`--json`)
//!
//! The first seven keys are those of the user's original script, with the same meaning:
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `total_services` | integer | units in the run: every outcome below, warnings included |
//! | `successful` | integer | units whose start job and main process succeeded |
//! | `failed` | integer | units that failed (not counting `warning` ones) |
//! | `timed_out` | integer | units still unfinished at their stage's timeout |
//! | `skipped` | integer | units already active or activating when their stage began |
//! | `failure_rate_percent` | integer | `floor(100 × (failed + timed_out) / total_services)` |
//! | `exit_code` | integer | 0, 1 or 2, see [`Verdict`] |
//! | `warnings` | integer | failures in `on_failure = "warn"` stages (e.g. sanoid) |
//! | `run_id` | string | the run's id on the host (`attach` takes it) |
//! | `host` | string | the host's name |
//! | `started_at` | string | RFC 3339, UTC |
//! | `duration_ms` | integer | run start to summary |
//! | `dry_run` | bool | nothing was started |
//! | `cancelled` | bool | `cancel` stopped the run early |
//! | `critical_reason` | string or null | why the run is critical before any unit ran (preflight) |
//! | `units` | array | one object per unit, in start order: |
//! | `units[].unit` | string | e.g. `syncoid-tank-services-prowlarr.service` |
//! | `units[].stage` | string | the plan's stage name |
//! | `units[].outcome` | string | `success`, `failed`, `timed_out`, `skipped`, `warning`, or `planned` (dry run) |
//! | `units[].result` | string or null | systemd's `Result` property (`success`, `exit-code`, `timeout`, …) |
//! | `units[].exit_status` | integer or null | systemd's `ExecMainStatus` |
//! | `units[].duration_ms` | integer or null | start to finish (to the timeout for `timed_out`) |
//! | `units[].still_running` | bool | a timed-out unit that was left running |
//! | `units[].journal` | array of strings, absent when empty | a failed unit's last journal lines (of that invocation): at most [`JOURNAL_LINES`] lines of at most [`JOURNAL_LINE_BYTES`] bytes, [`JOURNAL_UNIT_BYTES`] in all |

use serde::{Deserialize, Serialize};

use crate::exit_codes;
// Re-exported here too: the summary is where readers look for a unit's outcome.
pub use crate::outcome::Outcome;
use crate::outcome::Tally;

/// Journal lines a failed unit's report carries at most ([`UnitReport::journal`]).
pub const JOURNAL_LINES: usize = 20;
/// Bytes of one such line at most (longer lines are cut at a character boundary).
pub const JOURNAL_LINE_BYTES: usize = 512;
/// Bytes of one unit's journal lines at most, together (the oldest lines are dropped first).
pub const JOURNAL_UNIT_BYTES: usize = 16 * 1024;

/// One unit's line in the [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitReport {
    pub unit: String,
    pub stage: String,
    pub outcome: Outcome,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub exit_status: Option<i32>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub still_running: bool,
    /// Why it failed, in its own words: the last lines of its invocation's journal (failed units
    /// only; since protocol 1.1). Absent from the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal: Vec<String>,
}

/// The final report of a run: the last event of every run, and the `--json` output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total_services: u32,
    pub successful: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub skipped: u32,
    pub failure_rate_percent: u32,
    pub exit_code: i32,
    #[serde(default)]
    pub warnings: u32,
    pub run_id: String,
    pub host: String,
    pub started_at: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub cancelled: bool,
    #[serde(default)]
    pub critical_reason: Option<String>,
    #[serde(default)]
    pub units: Vec<UnitReport>,
}

impl Summary {
    /// The run's counts per outcome.
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

/// Counts and exit code derived from unit outcomes (the counts are a [`Tally`]'s, spelled out
/// because the agent's engine fills the [`Summary`] field by field).
///
/// The formula, unchanged from the user's script:
/// - `failure_rate_percent = floor(100 × (failed + timed_out) / total_services)` (0 when there are
///   no units), where `total_services` counts every unit of the run, skipped and warnings included;
/// - exit 2 (critical) if preflight failed, or if `100 × (failed + timed_out) > threshold ×
///   total_services` (compared exactly, so 50.0% with threshold 50 is not critical);
/// - otherwise exit 1 (partial) if anything failed or timed out;
/// - otherwise exit 0. Warnings and skipped units never fail a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub total_services: u32,
    pub successful: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub skipped: u32,
    pub warnings: u32,
    pub failure_rate_percent: u32,
    pub exit_code: i32,
}

impl Verdict {
    /// `preflight_failed` makes the run critical whatever the units did.
    pub fn compute(
        outcomes: impl IntoIterator<Item = Outcome>,
        failure_threshold_percent: u32,
        preflight_failed: bool,
    ) -> Verdict {
        let mut total_services = 0u32;
        let tally = Tally::of(outcomes.into_iter().inspect(|_| total_services += 1));
        let mut v = Verdict {
            total_services,
            successful: tally.successful,
            failed: tally.failed,
            timed_out: tally.timed_out,
            skipped: tally.skipped,
            warnings: tally.warnings,
            ..Verdict::default()
        };
        let bad = u64::from(tally.bad());
        let total = u64::from(total_services);
        v.failure_rate_percent = (bad * 100)
            .checked_div(total)
            .map_or(0, |rate| u32::try_from(rate).unwrap_or(100));
        v.exit_code =
            if preflight_failed || bad * 100 > u64::from(failure_threshold_percent) * total {
                exit_codes::CRITICAL
            } else if bad > 0 {
                exit_codes::PARTIAL_FAILURE
            } else {
                exit_codes::SUCCESS
            };
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(success: usize, failed: usize, timed_out: usize) -> Vec<Outcome> {
        let mut v = vec![Outcome::Success; success];
        v.extend(vec![Outcome::Failed; failed]);
        v.extend(vec![Outcome::TimedOut; timed_out]);
        v
    }

    #[test]
    fn verdict_is_partial_with_six_percent_when_one_of_fifteen_fails() {
        let v = Verdict::compute(outcomes(14, 1, 0), 50, false);
        assert_eq!(
            (
                v.total_services,
                v.failed,
                v.failure_rate_percent,
                v.exit_code
            ),
            (15, 1, 6, 1)
        );
    }

    #[test]
    fn verdict_is_critical_when_nine_of_fifteen_fail() {
        let v = Verdict::compute(outcomes(6, 9, 0), 50, false);
        assert_eq!((v.failure_rate_percent, v.exit_code), (60, 2));
    }

    #[test]
    fn verdict_counts_timeouts_as_failures() {
        let v = Verdict::compute(outcomes(6, 4, 5), 50, false);
        assert_eq!(
            (v.timed_out, v.failure_rate_percent, v.exit_code),
            (5, 60, 2)
        );
    }

    #[test]
    fn verdict_is_partial_at_exactly_the_threshold() {
        let v = Verdict::compute(outcomes(5, 5, 0), 50, false);
        assert_eq!((v.failure_rate_percent, v.exit_code), (50, 1));
    }

    #[test]
    fn verdict_never_fails_on_warnings_or_skips() {
        let v = Verdict::compute(
            [Outcome::Warning, Outcome::Skipped, Outcome::Success],
            50,
            false,
        );
        assert_eq!(
            (v.total_services, v.warnings, v.skipped, v.exit_code),
            (3, 1, 1, 0)
        );
    }

    #[test]
    fn verdict_is_critical_when_preflight_failed_even_with_no_units() {
        let v = Verdict::compute([], 50, true);
        assert_eq!(
            (v.total_services, v.failure_rate_percent, v.exit_code),
            (0, 0, 2)
        );
    }
}
