//! `logs HOST UNIT`'s answer in words: [`logs_text`] (the unit's journal lines, one a line, made
//! [`printable`]) and [`logs_json`] (the agent's `UnitLogs` answer as it came).
//!
//! The lines are printed bare, as `journalctl -o cat` would, so they pipe into `grep` like the
//! journal itself; the unit and invocation are in the JSON form.

use backup_orchestrator_proto::UnitLogs;

use crate::printable::printable;

/// The unit's lines, oldest first, each made printable, each ending in a newline.
pub fn logs_text(logs: &UnitLogs) -> String {
    logs.lines
        .iter()
        .map(|line| format!("{}\n", printable(line)))
        .collect()
}

/// `logs --json`: the `UnitLogs` answer as pretty JSON, with a final newline.
pub fn logs_json(logs: &UnitLogs) -> String {
    // Strings and a list of strings only: serialization cannot fail.
    let mut text = serde_json::to_string_pretty(logs).expect("UnitLogs serializes to JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(lines: &[&str]) -> UnitLogs {
        UnitLogs {
            unit: "loud.service".into(),
            invocation_id: Some("abc".into()),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn lines_are_printed_bare_and_escaped() {
        let text = logs_text(&logs(&["first", "evil \x1b[2J line"]));
        assert_eq!(text, "first\nevil \\u{1b}[2J line\n");
        assert_eq!(logs_text(&logs(&[])), "");
    }

    #[test]
    fn json_is_the_answer_as_it_came() {
        let value: serde_json::Value = serde_json::from_str(&logs_json(&logs(&["a"]))).unwrap();
        assert_eq!(value["unit"], "loud.service");
        assert_eq!(value["invocation_id"], "abc");
        assert_eq!(value["lines"], serde_json::json!(["a"]));
    }
}
