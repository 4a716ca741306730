//! `history TARGET…`'s answer in words: [`history_text`] (the runs kept on a host as a table) and
//! [`history_json`] (`{"host", "runs"}`, the agent's `RunHistory` with the host named).
//!
//! Every row starts with the host, like the other one-reply answers, so the tables of several
//! hosts read apart and `grep forge` keeps one host's rows.

use backup_orchestrator_proto::{RunHistory, RunRecord, RunState};

use crate::format::duration_ms;
use crate::printable::printable;

const HEADER: [&str; 9] = [
    "HOST",
    "RUN",
    "STARTED",
    "DURATION",
    "RESULT",
    "UNITS",
    "FAILED",
    "TIMED_OUT",
    "SKIPPED",
];

/// The kept runs of `host`, oldest first, as a table with a header; a line saying so when none.
pub fn history_text(host: &str, history: &RunHistory) -> String {
    if history.runs.is_empty() {
        return format!("{host}: no runs kept on this host yet\n");
    }
    let rows: Vec<[String; 9]> = history.runs.iter().map(|run| row(host, run)).collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADER.map(str::to_owned);
    std::iter::once(&header)
        .chain(&rows)
        .map(|cells| line(cells, &widths))
        .collect()
}

/// `history --json`: `{"host": HOST, "runs": [...]}` (each run as the agent keeps it), pretty,
/// with a final newline.
pub fn history_json(host: &str, history: &RunHistory) -> String {
    let value = serde_json::json!({ "host": host, "runs": history.runs });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// A run's result in a word: the verdict of a finished run (`ok`, `partial`, `critical`, with
/// its exit code), else its state.
pub fn run_result(run: &RunRecord) -> String {
    match (run.state, run.exit_code) {
        (RunState::Running, _) => "running".to_owned(),
        (RunState::Abandoned, _) => "abandoned".to_owned(),
        (RunState::Finished, Some(code)) => {
            let word = match code {
                0 => "ok",
                1 => "partial",
                _ => "critical",
            };
            let cancelled = if run.cancelled { ", cancelled" } else { "" };
            format!("{word} ({code}{cancelled})")
        }
        _ => "unknown".to_owned(),
    }
}

fn row(host: &str, run: &RunRecord) -> [String; 9] {
    let finished = run.state == RunState::Finished;
    let number = |n: u32| {
        if finished {
            n.to_string()
        } else {
            "-".to_owned()
        }
    };
    [
        host.to_owned(),
        printable(&run.run_id).into_owned(),
        run.started_at
            .as_deref()
            .map_or_else(|| "-".to_owned(), |at| printable(at).into_owned()),
        run.duration_ms.map_or_else(|| "-".to_owned(), duration_ms),
        run_result(run),
        number(run.total_services),
        number(run.failed),
        number(run.timed_out),
        number(run.skipped),
    ]
}

/// One row, each cell but the last padded to its column's width, two spaces between.
fn line(cells: &[String; 9], widths: &[usize; 9]) -> String {
    let mut text = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i + 1 == cells.len() {
            text.push_str(cell);
        } else {
            let pad = width - cell.chars().count();
            text.push_str(cell);
            text.push_str(&" ".repeat(pad + 2));
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(run_id: &str, exit_code: i32, failed: u32) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            started_at: Some("2026-11-29T10:00:00Z".into()),
            state: RunState::Finished,
            duration_ms: Some(12_345),
            exit_code: Some(exit_code),
            total_services: 15,
            successful: 15 - failed,
            failed,
            timed_out: 0,
            skipped: 0,
            warnings: 0,
            cancelled: false,
            critical_reason: None,
        }
    }

    #[test]
    fn table_has_a_header_and_one_aligned_row_per_run() {
        let mut running = record("20261129T120000Z-b", 0, 0);
        running.state = RunState::Running;
        running.exit_code = None;
        running.duration_ms = None;
        let history = RunHistory {
            runs: vec![record("20261129T100000Z-a", 1, 2), running],
        };
        let text = history_text("forge", &history);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("HOST   RUN  "), "{text}");
        assert_eq!(
            lines[1],
            "forge  20261129T100000Z-a  2026-11-29T10:00:00Z  12.3s     partial (1)  15     2       0          0"
        );
        assert!(lines[2].contains("running"), "{text}");
        assert!(lines[2].ends_with("  -"), "{text}");
        // The RESULT column starts at the same place on every line.
        let column = lines[0].find("RESULT").unwrap();
        assert_eq!(&lines[1][column..column + 7], "partial");
        assert_eq!(&lines[2][column..column + 7], "running");
    }

    #[test]
    fn no_runs_is_said() {
        let text = history_text("forge", &RunHistory::default());
        assert_eq!(text, "forge: no runs kept on this host yet\n");
    }

    #[test]
    fn results_name_the_verdict_and_its_code() {
        assert_eq!(run_result(&record("a", 0, 0)), "ok (0)");
        assert_eq!(run_result(&record("a", 2, 9)), "critical (2)");
        let mut cancelled = record("a", 1, 0);
        cancelled.cancelled = true;
        assert_eq!(run_result(&cancelled), "partial (1, cancelled)");
    }

    #[test]
    fn json_names_the_host_and_keeps_the_runs() {
        let history = RunHistory {
            runs: vec![record("a", 0, 0)],
        };
        let value: serde_json::Value =
            serde_json::from_str(&history_json("forge", &history)).unwrap();
        assert_eq!(value["host"], "forge");
        assert_eq!(value["runs"][0]["run_id"], "a");
        assert_eq!(value["runs"][0]["exit_code"], 0);
    }
}
