//! A unit's own journal lines: [`invocation_journal`] (one invocation, by its `InvocationID`: why
//! a unit failed, for its `UnitFinished` and the summary) and [`unit_journal`] (`logs UNIT`).
//!
//! Read with `journalctl` (`-o cat`: the messages only), not by parsing journal files: its on-disk
//! format is journald's business, and `journalctl` is on every systemd host. The child is bounded:
//! [`READ_TIMEOUT`], killed on drop, its output cut to the asked lines and to the byte bounds of
//! the protocol (`JOURNAL_LINE_BYTES` per line, `JOURNAL_UNIT_BYTES` per unit for a failure's
//! lines), so a stalled journald or a unit that logs megabyte lines never holds up a run or
//! overflows a frame.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use backup_orchestrator_proto::summary::{JOURNAL_LINE_BYTES, JOURNAL_UNIT_BYTES};
use tokio::process::Command;

/// How long one `journalctl` may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a unit's journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalReadError {
    #[error("{invocation_id:?} is not an invocation id")]
    NotAnInvocationId { invocation_id: String },
    #[error("run journalctl")]
    Spawn(#[source] io::Error),
    #[error("journalctl did not answer within {}s", READ_TIMEOUT.as_secs())]
    TimedOut,
    #[error("journalctl failed ({status}): {stderr}")]
    Failed {
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// The last `lines` lines of invocation `invocation_id` (32 hex digits): the unit's own output and
/// systemd's lines about that activation, oldest first, within [`JOURNAL_UNIT_BYTES`] in all.
pub async fn invocation_journal(
    invocation_id: &str,
    lines: usize,
) -> Result<Vec<String>, JournalReadError> {
    if invocation_id.len() != 32 || !invocation_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(JournalReadError::NotAnInvocationId {
            invocation_id: invocation_id.to_owned(),
        });
    }
    // The unit's processes carry the trusted `_SYSTEMD_INVOCATION_ID`; PID 1's lines about the
    // activation ("Main process exited, status=1/FAILURE") carry `INVOCATION_ID`.
    let args = [
        format!("_SYSTEMD_INVOCATION_ID={invocation_id}"),
        "+".to_owned(),
        format!("INVOCATION_ID={invocation_id}"),
    ];
    let text = journalctl(&args, lines).await?;
    Ok(keep_within(bounded_lines(&text), JOURNAL_UNIT_BYTES))
}

/// The last `lines` lines of `unit`'s journal, whatever the invocation (`journalctl -u`).
pub async fn unit_journal(unit: &str, lines: usize) -> Result<Vec<String>, JournalReadError> {
    let args = ["--unit".to_owned(), unit.to_owned()];
    Ok(bounded_lines(&journalctl(&args, lines).await?))
}

async fn journalctl(matches: &[String], lines: usize) -> Result<Vec<u8>, JournalReadError> {
    let child = Command::new("journalctl")
        .args(["--no-pager", "--quiet", "--output=cat", "--lines"])
        .arg(lines.to_string())
        .args(matches)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(JournalReadError::Spawn)?;
    let output = tokio::time::timeout(READ_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| JournalReadError::TimedOut)?
        .map_err(JournalReadError::Spawn)?;
    if !output.status.success() {
        return Err(JournalReadError::Failed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output.stdout)
}

/// The output's lines, each cut to [`JOURNAL_LINE_BYTES`] at a character boundary.
fn bounded_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|line| cut(line, JOURNAL_LINE_BYTES).to_owned())
        .collect()
}

fn cut(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// The newest lines whose bytes add up to at most `budget`: the oldest go first.
fn keep_within(mut lines: Vec<String>, budget: usize) -> Vec<String> {
    let mut total: usize = lines.iter().map(String::len).sum();
    let mut drop = 0;
    while total > budget && drop < lines.len() {
        total -= lines[drop].len();
        drop += 1;
    }
    lines.drain(..drop);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_are_cut_at_a_character_boundary() {
        let long = format!("{}é{}", "a".repeat(JOURNAL_LINE_BYTES - 1), "b".repeat(10));
        let lines = bounded_lines(format!("short\n{long}\n").as_bytes());
        assert_eq!(lines[0], "short");
        assert_eq!(lines[1], "a".repeat(JOURNAL_LINE_BYTES - 1));
        assert!(lines.iter().all(|l| l.len() <= JOURNAL_LINE_BYTES));
    }

    #[test]
    fn journal_lines_keep_the_newest_within_the_budget() {
        let lines: Vec<String> = (0..40).map(|i| format!("{i:0>500}")).collect();
        let kept = keep_within(lines, JOURNAL_UNIT_BYTES);
        assert_eq!(kept.len(), JOURNAL_UNIT_BYTES / 500);
        assert_eq!(
            kept.last().map(String::as_str),
            Some(&*format!("{:0>500}", 39))
        );
        assert!(kept.iter().map(String::len).sum::<usize>() <= JOURNAL_UNIT_BYTES);
    }

    #[tokio::test]
    async fn journal_refuses_an_invocation_id_that_is_not_one() {
        let e = invocation_journal("--since=yesterday", 20)
            .await
            .unwrap_err();
        assert!(
            matches!(e, JournalReadError::NotAnInvocationId { .. }),
            "{e}"
        );
    }
}
