//! The textfile on sample runs, every text checked by promtool.

use std::process::{Command, Stdio};

use backup_orchestrator_proto::UnitReport;

use super::*;

fn unit(name: &str, stage: &str, outcome: Outcome, duration_ms: Option<u64>) -> UnitReport {
    UnitReport {
        unit: name.into(),
        stage: stage.into(),
        outcome,
        result: None,
        exit_status: None,
        duration_ms,
        still_running: false,
        journal: vec![],
    }
}

fn summary(started_at: &str, exit_code: i32, units: Vec<UnitReport>) -> Summary {
    Summary {
        total_services: u32::try_from(units.len()).unwrap(),
        successful: 0,
        failed: 0,
        timed_out: 0,
        skipped: 0,
        failure_rate_percent: 0,
        exit_code,
        warnings: 0,
        run_id: "20251103T120000Z-ab12".into(),
        host: "forge".into(),
        started_at: started_at.into(),
        duration_ms: 61_250,
        dry_run: false,
        cancelled: false,
        critical_reason: None,
        units,
    }
}

/// `promtool check metrics` on `text`: the exposition format's own parser and linter.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; tests/hosts/install-deps installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool refused:\n{}{}\n--- text:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The value of the sample line that starts with `series ` (name and labels as written).
fn value(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(str::to_owned)
}

#[test]
fn textfile_passes_promtool_and_carries_last_successes_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let textfile = dir.path().join("backup-orchestrator.prom");
    // Not there yet: created with the first run's state.
    let carried = dir.path().join("state").join("monitoring.json");

    // Day 1: both succeed.
    let ok = summary(
        "2025-11-03T12:00:00Z",
        0,
        vec![
            unit(
                "syncoid-a.service",
                "replication",
                Outcome::Success,
                Some(1500),
            ),
            unit(
                "syncoid-b.service",
                "replication",
                Outcome::Success,
                Some(250),
            ),
        ],
    );
    write_textfile(&textfile, &carried, &ok).unwrap();
    let text = fs::read_to_string(&textfile).unwrap();
    promtool_check(&text);
    assert_eq!(
        fs::metadata(&textfile).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let day1 = "1762171200.000";
    assert_eq!(
        value(&text, "backup_orchestrator_last_success_timestamp_seconds").as_deref(),
        Some(day1)
    );
    assert_eq!(
        value(&text, r#"backup_orchestrator_unit_duration_seconds{unit="syncoid-a.service",stage="replication"}"#).as_deref(),
        Some("1.500")
    );

    // Day 2: b fails, the run is partial.
    let partial = summary(
        "2025-11-04T12:00:00Z",
        1,
        vec![
            unit(
                "syncoid-a.service",
                "replication",
                Outcome::Success,
                Some(1000),
            ),
            unit(
                "syncoid-b.service",
                "replication",
                Outcome::Failed,
                Some(80),
            ),
        ],
    );
    write_textfile(&textfile, &carried, &partial).unwrap();
    let text = fs::read_to_string(&textfile).unwrap();
    promtool_check(&text);
    let day2 = "1762257600.000";
    for (series, expected) in [
        ("backup_orchestrator_last_run_timestamp_seconds", day2),
        ("backup_orchestrator_last_run_duration_seconds", "61.250"),
        ("backup_orchestrator_last_exit_code", "1"),
        ("backup_orchestrator_last_success_timestamp_seconds", day1),
        (r#"backup_orchestrator_units{outcome="success"}"#, "1"),
        (r#"backup_orchestrator_units{outcome="failed"}"#, "1"),
        (r#"backup_orchestrator_units{outcome="timed_out"}"#, "0"),
        (
            r#"backup_orchestrator_unit_success{unit="syncoid-a.service",stage="replication"}"#,
            "1",
        ),
        (
            r#"backup_orchestrator_unit_success{unit="syncoid-b.service",stage="replication"}"#,
            "0",
        ),
        (
            r#"backup_orchestrator_unit_last_success_timestamp_seconds{unit="syncoid-a.service"}"#,
            day2,
        ),
        (
            r#"backup_orchestrator_unit_last_success_timestamp_seconds{unit="syncoid-b.service"}"#,
            day1,
        ),
    ] {
        assert_eq!(
            value(&text, series).as_deref(),
            Some(expected),
            "{series} in:\n{text}"
        );
    }

    // Day 3: preflight failed, nothing ran; then a dry run: neither is a success.
    let critical = summary("2025-11-05T12:00:00Z", 2, vec![]);
    write_textfile(&textfile, &carried, &critical).unwrap();
    let dry = Summary {
        dry_run: true,
        ..summary(
            "2025-11-05T13:00:00Z",
            0,
            vec![unit(
                "syncoid-b.service",
                "replication",
                Outcome::Planned,
                None,
            )],
        )
    };
    write_textfile(&textfile, &carried, &critical).unwrap();
    let text = fs::read_to_string(&textfile).unwrap();
    promtool_check(&text);
    assert_eq!(
        value(&text, "backup_orchestrator_last_exit_code").as_deref(),
        Some("2")
    );
    assert_eq!(
        value(&text, "backup_orchestrator_last_success_timestamp_seconds").as_deref(),
        Some(day1)
    );
    assert!(
        !text.contains("backup_orchestrator_unit_success{"),
        "{text}"
    );
    write_textfile(&textfile, &carried, &dry).unwrap();
    let text = fs::read_to_string(&textfile).unwrap();
    promtool_check(&text);
    assert_eq!(
        value(&text, "backup_orchestrator_last_run_dry_run").as_deref(),
        Some("1")
    );
    assert_eq!(
        value(&text, "backup_orchestrator_last_success_timestamp_seconds").as_deref(),
        Some(day1)
    );
    assert_eq!(
        value(
            &text,
            r#"backup_orchestrator_unit_last_success_timestamp_seconds{unit="syncoid-b.service"}"#
        )
        .as_deref(),
        Some(day1)
    );
    // No temporary file left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn textfile_escapes_label_values_as_the_format_requires() {
    let odd = summary(
        "2025-11-03T12:00:00Z",
        0,
        vec![unit(
            "a\\b\"c\nd.service",
            "st\"age",
            Outcome::Success,
            Some(1),
        )],
    );
    let text = render(&odd, 0, &Carried::default());
    promtool_check(&text);
    assert!(
        text.contains(
            r#"backup_orchestrator_unit_success{unit="a\\b\"c\nd.service",stage="st\"age"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn textfile_is_not_written_into_a_missing_directory_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("x.prom");
    let e = write_textfile(
        &missing,
        &dir.path().join("monitoring.json"),
        &summary("2025-11-03T12:00:00Z", 0, vec![]),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("write "), "{e}");
    assert!(e.to_string().contains("no-such-dir"), "{e}");
}
