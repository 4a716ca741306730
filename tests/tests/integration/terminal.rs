//! The controller's terminal rendering in a real pseudo-terminal (util-linux `script`), driven
//! by the hidden `debug-render` command's canned run so the output is the same every time.
//! Spinner and bar redraws depend on timing, so the snapshot keeps what a user reads back in the
//! scrollback: the lines printed above the bars, with durations redacted.

use std::process::Command;
use std::time::Duration;

use backup_orchestrator_tests::{controller_binary, output_with_timeout};
use regex::Regex;

use crate::support::{code, show, text};

/// The lines left in the scrollback: escape sequences removed, each line as the last
/// carriage return left it, spinner and bar lines dropped, durations redacted.
fn scrollback(raw: &str) -> String {
    let escapes = Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").expect("regex");
    let durations =
        Regex::new(r"\b\d+(\.\d+)?(ms|s)\b|\b\d+m \d+s\b|\b\d+h \d+m\b").expect("regex");
    let plain = escapes.replace_all(raw, "");
    plain
        .split('\n')
        .map(|line| {
            let line = line.trim_end_matches('\r');
            line.rsplit('\r').next().unwrap_or("").trim_end()
        })
        .filter(|line| !line.is_empty() && !line.starts_with("  ") && !line.contains(" · Stage "))
        .map(|line| durations.replace_all(line, "[duration]").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn controller_terminal_output_in_a_pty_matches_the_snapshot() {
    let command = format!(
        "{} debug-render --delay-ms 2",
        controller_binary().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "120")
        .env("LINES", "40");
    let out =
        output_with_timeout(&mut cmd, Duration::from_secs(60)).expect("debug-render in a pty");
    // The canned run ends with one failed unit: partial, exit 1.
    assert_eq!(code(&out), 1, "{}", show(&out));
    let raw = text(&out.stdout);
    assert!(
        raw.contains('\u{1b}'),
        "no terminal drawing in a pty:\n{raw}"
    );
    insta::assert_snapshot!(scrollback(&raw));
}
