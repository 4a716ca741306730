//! What happened to a unit, [`Outcome`], and units counted per outcome, [`Tally`]: the one count
//! every part of the system shares.
//!
//! The agent's verdict ([`Verdict`](crate::Verdict)), a finished stage
//! (`event::StageFinished`), the run's [`Summary`](crate::Summary) and the
//! renderers' view of a run all count the same five outcomes; they count them here, so "failed"
//! cannot mean one thing in the bars and another in the JSON.

use serde::{Deserialize, Serialize};

/// What happened to one unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failed,
    TimedOut,
    Skipped,
    /// Failed in a stage whose plan says `on_failure = "warn"`: listed, never counted as failed.
    Warning,
    /// Dry run: would have been started.
    Planned,
    #[serde(other)]
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed_out",
            Outcome::Skipped => "skipped",
            Outcome::Warning => "warning",
            Outcome::Planned => "planned",
            Outcome::Unknown => "unknown",
        }
    }
}

/// How many units ended each way. `Planned` (dry run) and `Unknown` (a newer agent's outcome)
/// count in none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub successful: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub skipped: u32,
    /// Failures in `on_failure = "warn"` stages: listed, never counted as failed.
    pub warnings: u32,
}

impl Tally {
    /// Counts `outcomes`.
    pub fn of(outcomes: impl IntoIterator<Item = Outcome>) -> Tally {
        let mut tally = Tally::default();
        for outcome in outcomes {
            tally.add(outcome);
        }
        tally
    }

    /// Counts one more unit.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Success => self.successful += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Warning => self.warnings += 1,
            Outcome::Planned | Outcome::Unknown => {}
        }
    }

    /// Units that count against the run: failed and timed out.
    pub fn bad(&self) -> u32 {
        self.failed + self.timed_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_each_outcome_and_ignores_planned_and_unknown() {
        let tally = Tally::of([
            Outcome::Success,
            Outcome::Success,
            Outcome::Failed,
            Outcome::TimedOut,
            Outcome::Skipped,
            Outcome::Warning,
            Outcome::Planned,
            Outcome::Unknown,
        ]);
        assert_eq!(
            tally,
            Tally {
                successful: 2,
                failed: 1,
                timed_out: 1,
                skipped: 1,
                warnings: 1,
            }
        );
        assert_eq!(tally.bad(), 2);
    }
}
