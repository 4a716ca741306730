//! [`journal_texts`]: a failed unit's own last journal lines (`UnitFinished.journal`), shown
//! indented under its failure line in plain output and above the bars, so the reason is on screen
//! without logging in to the host.

use backup_orchestrator_proto::event::UnitFinished;

use crate::printable::printable;

/// How far the journal lines are indented under the unit's line.
const INDENT: &str = "    │ ";

/// The texts of the lines under `u`'s failure line (`lines.rs` prints them at the failure line's
/// level, warn): one per journal line, indented, control characters (a unit's colour codes, a stray
/// carriage return) shown escaped so a unit's output cannot rewrite the terminal.
pub(crate) fn journal_texts(u: &UnitFinished) -> Vec<String> {
    u.journal
        .iter()
        .map(|line| format!("{INDENT}{}", printable(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_proto::Outcome;

    use super::*;

    fn failed(journal: &[&str]) -> UnitFinished {
        UnitFinished {
            stage: "replication".into(),
            unit: "syncoid-a.service".into(),
            outcome: Outcome::Failed,
            result: "exit-code".into(),
            active_state: "failed".into(),
            exit_status: Some(1),
            duration_ms: 80,
            journal: journal.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn journal_texts_are_indented_with_control_characters_escaped() {
        let texts = journal_texts(&failed(&[
            "CRITICAL ERROR: ssh: connect to host nas port 22: No route to host",
            "\u{1b}[31mred\u{1b}[0m\r",
        ]));
        assert_eq!(
            texts,
            [
                "    │ CRITICAL ERROR: ssh: connect to host nas port 22: No route to host",
                "    │ \\u{1b}[31mred\\u{1b}[0m\\r",
            ]
        );
        assert!(journal_texts(&failed(&[])).is_empty());
    }
}
