//! `check TARGET… --max-age DURATION`, a Nagios/Icinga plugin, in words: [`check_host`] judges a
//! host's last finished run into a [`CheckLine`] (`BACKUP OK - … | perfdata`), [`check_unknown`]
//! says the host could not be asked, [`worst_check_code`] folds several hosts into one exit code.
//!
//! The codes are the plugin API's: 0 OK, 1 WARNING (last run partial), 2 CRITICAL (last run
//! critical, older than max-age, or none), 3 UNKNOWN (could not ask). Over several hosts the worst
//! wins in Nagios's own order, CRITICAL > WARNING > UNKNOWN > OK: a host that could not be asked
//! must not hide another host's failed backup behind a 3.

use std::time::{Duration, SystemTime};

use backup_orchestrator_proto::{RunHistory, RunRecord, RunState};

use crate::format::duration_secs;
use crate::printable::printable;

pub const CHECK_OK: i32 = 0;
pub const CHECK_WARNING: i32 = 1;
pub const CHECK_CRITICAL: i32 = 2;
pub const CHECK_UNKNOWN: i32 = 3;

/// One host's plugin answer: its exit code, its one line (with a final newline) and its JSON form.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckLine {
    pub code: i32,
    pub line: String,
    pub json: serde_json::Value,
}

/// Judges `host`'s last finished run, as of `now`, against `max_age` (measured from the run's end).
pub fn check_host(
    host: &str,
    history: &RunHistory,
    now: SystemTime,
    max_age: Duration,
) -> CheckLine {
    let Some(run) = history
        .runs
        .iter()
        .rev()
        .find(|run| run.state == RunState::Finished)
    else {
        let message = format!("{host}: no finished run kept on this host");
        return answer(host, CHECK_CRITICAL, message, None, None);
    };
    let age = finished_at(run).map(|end| now.duration_since(end).unwrap_or_default());
    let verdict = run.exit_code.unwrap_or(CHECK_CRITICAL);
    let (code, why) = match age {
        Some(age) if age > max_age => (
            CHECK_CRITICAL,
            format!(
                ", older than --max-age {}",
                duration_secs(max_age.as_secs())
            ),
        ),
        None => (CHECK_CRITICAL, ", its end time unknown".to_owned()),
        Some(_) if verdict == 0 => (CHECK_OK, String::new()),
        Some(_) if verdict == 1 => (CHECK_WARNING, ", partial".to_owned()),
        Some(_) => {
            let reason = run
                .critical_reason
                .as_deref()
                .map_or_else(String::new, |r| format!(": {}", printable(r)));
            (CHECK_CRITICAL, format!(", critical{reason}"))
        }
    };
    let ago = age.map_or_else(
        || "at an unknown time".to_owned(),
        |age| format!("{} ago", duration_secs(age.as_secs())),
    );
    let message = format!(
        "{host}: last run {} {ago}, {} units, {} failed{why}",
        printable(&run.run_id),
        run.total_services,
        run.failed + run.timed_out,
    );
    answer(host, code, message, Some(run), age.map(|a| (a, max_age)))
}

/// The host could not be asked (connection, agent, refusal): UNKNOWN with the error.
pub fn check_unknown(host: &str, error: &str) -> CheckLine {
    // One line per host is the plugin API: a multi-line error chain is joined first.
    let error = printable(&error.replace('\n', " ")).into_owned();
    CheckLine {
        code: CHECK_UNKNOWN,
        line: format!("BACKUP UNKNOWN - {host}: could not ask: {error}\n"),
        json: serde_json::json!({ "host": host, "exit_code": CHECK_UNKNOWN, "error": error }),
    }
}

/// The worst of two plugin codes: CRITICAL > WARNING > UNKNOWN > OK.
pub fn worst_check_code(a: i32, b: i32) -> i32 {
    let rank = |code| match code {
        CHECK_OK => 0,
        CHECK_UNKNOWN => 1,
        CHECK_WARNING => 2,
        _ => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// When the run ended: its start plus its duration.
fn finished_at(run: &RunRecord) -> Option<SystemTime> {
    let started = humantime::parse_rfc3339_weak(run.started_at.as_deref()?).ok()?;
    Some(started + Duration::from_millis(run.duration_ms.unwrap_or(0)))
}

fn answer(
    host: &str,
    code: i32,
    message: String,
    run: Option<&RunRecord>,
    age: Option<(Duration, Duration)>,
) -> CheckLine {
    let status = match code {
        CHECK_OK => "OK",
        CHECK_WARNING => "WARNING",
        _ => "CRITICAL",
    };
    let perfdata = run.map(|run| perfdata(run, age)).unwrap_or_default();
    let line = format!("BACKUP {status} - {message}{perfdata}\n");
    let json = serde_json::json!({
        "host": host,
        "exit_code": code,
        "status": status,
        "message": message,
        "run_id": run.map(|r| r.run_id.clone()),
        "age_seconds": age.map(|(a, _)| a.as_secs()),
        "units": run.map(|r| r.total_services),
        "failed": run.map(|r| r.failed),
        "timed_out": run.map(|r| r.timed_out),
    });
    CheckLine { code, line, json }
}

/// ` | failed=0;;;0 timed_out=0;;;0 failure_rate=0%;;;0;100 age=7200s;;93600;0`: counts, the
/// share of units that failed or timed out, and the age against max-age as the critical threshold.
fn perfdata(run: &RunRecord, age: Option<(Duration, Duration)>) -> String {
    let bad = u64::from(run.failed) + u64::from(run.timed_out);
    let rate = if run.total_services == 0 {
        0
    } else {
        bad * 100 / u64::from(run.total_services)
    };
    let mut text = format!(
        " | failed={};;;0 timed_out={};;;0 failure_rate={rate}%;;;0;100",
        run.failed, run.timed_out
    );
    if let Some((age, max_age)) = age {
        text.push_str(&format!(" age={}s;;{};0", age.as_secs(), max_age.as_secs()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn run(run_id: &str, exit_code: i32, failed: u32) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            started_at: Some("2026-11-29T10:00:00Z".into()),
            state: RunState::Finished,
            duration_ms: Some(60_000),
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

    /// Two hours after the test runs' end (10:01).
    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-11-29T12:01:00Z").unwrap()
    }

    fn check(runs: Vec<RunRecord>, max_age: Duration) -> CheckLine {
        check_host("forge", &RunHistory { runs }, now(), max_age)
    }

    #[test]
    fn a_recent_successful_run_is_ok_with_perfdata() {
        let line = check(vec![run("r1", 0, 0)], 26 * HOUR);
        assert_eq!(line.code, CHECK_OK);
        assert_eq!(
            line.line,
            "BACKUP OK - forge: last run r1 2h ago, 15 units, 0 failed \
             | failed=0;;;0 timed_out=0;;;0 failure_rate=0%;;;0;100 age=7200s;;93600;0\n"
        );
        assert_eq!(line.json["status"], "OK");
        assert_eq!(line.json["age_seconds"], 7200);
    }

    #[test]
    fn partial_warns_and_critical_is_critical() {
        let line = check(vec![run("r1", 1, 3)], 26 * HOUR);
        assert_eq!(line.code, CHECK_WARNING);
        assert!(line.line.starts_with("BACKUP WARNING - forge: last run r1 2h ago, 15 units, 3 failed, partial | failed=3;;;0"), "{}", line.line);
        assert!(
            line.line.contains("failure_rate=20%;;;0;100"),
            "{}",
            line.line
        );
        let mut critical = run("r2", 2, 9);
        critical.critical_reason = Some("preflight failed".into());
        let line = check(vec![run("r1", 0, 0), critical], 26 * HOUR);
        assert_eq!(line.code, CHECK_CRITICAL);
        assert!(
            line.line
                .contains("last run r2 2h ago, 15 units, 9 failed, critical: preflight failed |"),
            "{}",
            line.line
        );
    }

    #[test]
    fn the_last_finished_run_counts_not_a_running_one() {
        let mut running = run("r2", 0, 0);
        running.state = RunState::Running;
        running.exit_code = None;
        let line = check(vec![run("r1", 1, 1), running], 26 * HOUR);
        assert_eq!(line.code, CHECK_WARNING);
        assert!(line.line.contains("last run r1 "), "{}", line.line);
    }

    #[test]
    fn too_old_or_none_is_critical() {
        let line = check(vec![run("r1", 0, 0)], HOUR);
        assert_eq!(line.code, CHECK_CRITICAL);
        assert!(
            line.line.contains("0 failed, older than --max-age 1h |"),
            "{}",
            line.line
        );
        assert!(line.line.ends_with(" age=7200s;;3600;0\n"), "{}", line.line);
        let line = check(Vec::new(), HOUR);
        assert_eq!(line.code, CHECK_CRITICAL);
        assert_eq!(
            line.line,
            "BACKUP CRITICAL - forge: no finished run kept on this host\n"
        );
    }

    #[test]
    fn unknown_carries_the_error_in_text_and_json() {
        let line = check_unknown("forge", "forge: connection refused\nretry");
        assert_eq!(line.code, CHECK_UNKNOWN);
        assert_eq!(
            line.line,
            "BACKUP UNKNOWN - forge: could not ask: forge: connection refused retry\n"
        );
        assert_eq!(
            line.json,
            serde_json::json!({"host": "forge", "exit_code": 3, "error": "forge: connection refused retry"})
        );
    }

    #[test]
    fn critical_outranks_warning_outranks_unknown() {
        let fold = |codes: &[i32]| codes.iter().copied().fold(CHECK_OK, worst_check_code);
        assert_eq!(fold(&[0, 3, 0]), CHECK_UNKNOWN);
        assert_eq!(fold(&[3, 1, 0]), CHECK_WARNING);
        assert_eq!(fold(&[1, 3, 2, 0]), CHECK_CRITICAL);
        assert_eq!(fold(&[]), CHECK_OK);
    }
}
