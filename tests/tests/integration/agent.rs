//! The agent `backup-orchestrator` on real hosts: the user's plan against real systemd (PID 1),
//! started as `sudo backup-orchestrator` over OpenSSH, exactly as the user does today.

use std::thread;
use std::time::{Duration, Instant};

use backup_orchestrator_tests::{
    EXCLUDED_UNITS, HostSpec, PLAN_UNITS, TestHosts, UnitSet, agent_binary, excluded_marker,
    max_concurrency,
};

use crate::schema::Summary;
use crate::support::{code, show, started_units, text, trace, write_remote_file};

const RESTIC: [&str; 6] = [
    "restic-backup-home-assistant.service",
    "restic-backup-immich.service",
    "restic-backup-paperless.service",
    "restic-backup-plex.service",
    "restic-backup-radarr.service",
    "restic-backup-sonarr.service",
];

fn boot(group: &str, units: UnitSet) -> TestHosts {
    boot_with(group, units, HostSpec::new(1))
}

fn boot_with(group: &str, units: UnitSet, spec: HostSpec) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(units),
            ..spec
        },
    )
}

/// `sudo -n backup-orchestrator --yes --json ARGS` on h1; its JSON summary when it printed one.
fn run_json(hosts: &TestHosts, args: &str) -> (std::process::Output, Summary) {
    let out = hosts.ssh(
        "h1",
        &format!("sudo -n backup-orchestrator --yes --json {args}"),
    );
    let summary = Summary::parse(&out.stdout);
    (out, summary)
}

#[test]
fn agent_runs_all_fifteen_units_and_exits_0_when_all_succeed() {
    let hosts = boot("ag-ok", UnitSet::user_plan(0.2));
    // Nothing is loaded before the run: discovery must find the units from their files.
    let loaded = hosts.ssh_ok(
        "h1",
        "systemctl list-units --all --no-legend 'restic-backup-*' 'syncoid-*'",
    );
    assert_eq!(loaded.trim(), "", "units loaded before the run");

    let (out, summary) = run_json(&hosts, "");
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(
        (
            summary.total_services,
            summary.successful,
            summary.failed,
            summary.timed_out,
            summary.skipped
        ),
        (15, 15, 0, 0, 0)
    );
    assert_eq!((summary.failure_rate_percent, summary.exit_code), (0, 0));
    let mut reported: Vec<&str> = summary.units.iter().map(|u| u.unit.as_str()).collect();
    reported.sort_unstable();
    let mut expected: Vec<&str> = PLAN_UNITS.to_vec();
    expected.sort_unstable();
    assert_eq!(reported, expected);
    assert!(
        summary
            .units
            .iter()
            .all(|u| u.result.as_deref() == Some("success") && u.exit_status == Some(0))
    );

    // Stage order from the units' own clocks: sanoid, then syncoid, then pgbackrest, then restic.
    let events = trace(&hosts, "h1");
    let first_start = |prefix: &str| {
        events
            .iter()
            .filter(|e| e.unit.starts_with(prefix))
            .map(|e| e.at)
            .fold(f64::MAX, f64::min)
    };
    let last_exit = |prefix: &str| {
        events
            .iter()
            .filter(|e| e.unit.starts_with(prefix))
            .map(|e| e.at)
            .fold(f64::MIN, f64::max)
    };
    assert!(last_exit("sanoid") <= first_start("syncoid-"));
    assert!(last_exit("syncoid-") <= first_start("pgbackrest-"));
    assert!(last_exit("pgbackrest-") <= first_start("restic-"));
    // The seven syncoid jobs ran in parallel (no limit), restic at most 3 at once.
    let syncoid: Vec<_> = events
        .iter()
        .filter(|e| e.unit.starts_with("syncoid-"))
        .cloned()
        .collect();
    assert!(
        max_concurrency(&syncoid) >= 2,
        "syncoid ran one at a time: {syncoid:?}"
    );

    // Excluded units and the incremental pgBackRest backup never ran.
    for unit in EXCLUDED_UNITS {
        let marker = excluded_marker(unit);
        hosts.ssh_ok("h1", &format!("test ! -e {marker}"));
    }
    // The run is in the journal with its id.
    let journal = hosts.ssh_ok(
        "h1",
        &format!(
            "sudo -n journalctl --no-pager -o cat RUN_ID={} | head -50",
            summary.run_id
        ),
    );
    assert!(
        journal.contains("sanoid.service"),
        "journal for the run:\n{journal}"
    );
}

#[test]
fn agent_exits_1_with_6_percent_when_one_syncoid_fails() {
    let hosts = boot(
        "ag-partial",
        UnitSet::user_plan(0.1).fail("syncoid-tank-services-prowlarr", 1),
    );
    let (out, summary) = run_json(&hosts, "");
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert_eq!(
        (summary.total_services, summary.successful, summary.failed),
        (15, 14, 1)
    );
    assert_eq!((summary.failure_rate_percent, summary.exit_code), (6, 1));
    let failed = summary.unit("syncoid-tank-services-prowlarr.service");
    assert_eq!(failed.outcome, "failed");
    assert_eq!(failed.result.as_deref(), Some("exit-code"));
    assert_eq!(failed.exit_status, Some(1));
    // A failure does not stop later stages.
    assert_eq!(
        summary.unit("restic-backup-plex.service").outcome,
        "success"
    );

    // The human output is the user's format.
    let human = hosts.ssh("h1", "sudo -n backup-orchestrator --yes");
    assert_eq!(code(&human), 1);
    let stdout = text(&human.stdout);
    assert!(
        stdout.contains(
            "[WARN] syncoid-tank-services-prowlarr.service failed with result: exit-code"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Partial failure: 6%"), "{stdout}");
}

#[test]
fn agent_exits_2_when_nine_of_fifteen_fail() {
    let mut units = UnitSet::user_plan(0.1);
    for unit in &PLAN_UNITS[..9] {
        units = units.fail(unit, 2);
    }
    let hosts = boot("ag-critical", units);
    let (out, summary) = run_json(&hosts, "");
    assert_eq!(code(&out), 2, "{}", show(&out));
    // sanoid is among the nine but only warns: 8 failed + 1 warning.
    let failed = PLAN_UNITS[..9]
        .iter()
        .filter(|u| !u.starts_with("sanoid"))
        .count() as u32;
    assert_eq!((summary.failed, summary.warnings), (failed, 1));
    assert_eq!(summary.failure_rate_percent, failed * 100 / 15);
    assert!(summary.failure_rate_percent > 50);
}

#[test]
fn agent_exits_2_and_starts_nothing_when_nas_backup_is_too_small() {
    let hosts = boot_with(
        "ag-disk",
        UnitSet::user_plan(0.1),
        HostSpec {
            backup_size: Some("2M".into()),
            ..HostSpec::new(1)
        },
    );
    let (out, summary) = run_json(&hosts, "");
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        summary
            .critical_reason
            .as_deref()
            .is_some_and(|r| r.contains("/mnt/nas-backup")),
        "{summary:?}"
    );
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
    // No unit job in the journal either.
    let journal = hosts.ssh_ok(
        "h1",
        "sudo -n journalctl --no-pager -o cat _PID=1 | grep -E 'Start(ing|ed) .*(sanoid|syncoid|restic|pgbackrest)' || true",
    );
    assert_eq!(
        journal.trim(),
        "",
        "units started despite the failed preflight"
    );
}

#[test]
fn agent_skips_a_restic_unit_already_running_and_keeps_restic_to_three_at_once() {
    let hosts = boot(
        "ag-restic",
        UnitSet::user_plan(0.6).duration("restic-backup-plex", 20.0),
    );
    // As if its timer had fired: running when the restic stage begins.
    hosts.ssh_ok(
        "h1",
        "sudo -n systemctl start --no-block restic-backup-plex.service",
    );
    let (out, summary) = run_json(&hosts, "");
    assert_eq!(code(&out), 0, "{}", show(&out));
    let plex = summary.unit("restic-backup-plex.service");
    assert_eq!(plex.outcome, "skipped");
    assert_eq!((summary.skipped, summary.successful), (1, 14));

    let restic: Vec<_> = trace(&hosts, "h1")
        .into_iter()
        .filter(|e| e.unit.starts_with("restic-") && e.unit != "restic-backup-plex.service")
        .collect();
    assert_eq!(
        restic.len(),
        10,
        "5 restic units started and exited: {restic:?}"
    );
    let peak = max_concurrency(&restic);
    assert!(peak <= 3, "restic ran {peak} at once: {restic:?}");
    assert_eq!(peak, 3, "the limit is 3, not less: {restic:?}");
    assert!(
        RESTIC
            .iter()
            .all(|u| summary.units.iter().any(|r| r.unit == *u))
    );
}

const SHORT_TIMEOUT_PLAN: &str = r#"
failure_threshold_percent = 50
[[stage]]
name = "quick"
units = ["sanoid.service"]
timeout = "30s"
[[stage]]
name = "slow"
units = ["restic-backup-immich.service"]
timeout = "2s"
"#;

#[test]
fn agent_marks_a_unit_past_its_timeout_timed_out_and_leaves_it_running() {
    let hosts = boot(
        "ag-timeout",
        UnitSet::user_plan(0.1).duration("restic-backup-immich", 30.0),
    );
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/short.toml",
        SHORT_TIMEOUT_PLAN,
    );
    let started = Instant::now();
    let (out, summary) = run_json(&hosts, "--plan /etc/backup-orchestrator/short.toml");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run waited for the slow unit"
    );
    // 1 of 2 timed out: 50%, at the threshold, so partial.
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert_eq!(summary.failure_rate_percent, 50);
    let immich = summary.unit("restic-backup-immich.service");
    assert_eq!(immich.outcome, "timed_out");
    assert!(immich.still_running);
    assert_eq!(summary.timed_out, 1);
    let state = hosts.ssh_ok(
        "h1",
        "systemctl is-active restic-backup-immich.service || true",
    );
    assert_eq!(
        state.trim(),
        "activating",
        "a timed-out backup is left running"
    );
}

#[test]
fn agent_refuses_a_malformed_plan_with_64_and_starts_nothing() {
    let hosts = boot("ag-badplan", UnitSet::user_plan(0.1));
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/plan.toml",
        "failure_threshold_percent = 50\n[[stage]]\nname = \"x\"\nunits = [\"sanoid.service\"]\nparalel = 2\n",
    );
    let out = hosts.ssh("h1", "sudo -n backup-orchestrator --yes");
    assert_eq!(code(&out), 64, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/etc/backup-orchestrator/plan.toml:5"),
        "no file:line in: {stderr}"
    );
    assert!(stderr.contains("paralel"), "{stderr}");
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
}

#[test]
fn agent_run_survives_sigkill_of_its_starter_and_attach_shows_every_event() {
    let hosts = boot("ag-survive", UnitSet::user_plan(1.0));
    // Start the run, then SIGKILL the process that started it once the first units run.
    hosts.ssh_ok(
        "h1",
        "sudo -n sh -c 'backup-orchestrator --yes --quiet >/dev/null 2>&1 & echo $! > /run/starter.pid'",
    );
    let mut running = false;
    for _ in 0..50 {
        if hosts
            .ssh_ok("h1", "cat /run/bo-unit-trace 2>/dev/null | wc -l")
            .trim()
            != "0"
        {
            running = true;
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    assert!(running, "no unit started within 10 s");
    hosts.ssh_ok("h1", "sudo -n kill -9 \"$(cat /run/starter.pid)\"");

    // A second run while this one goes on is refused with its id.
    let second = hosts.ssh("h1", "sudo -n backup-orchestrator --yes");
    assert_eq!(code(&second), 3, "{}", show(&second));
    let refusal = text(&second.stderr) + &text(&second.stdout);
    assert!(refusal.contains("backup-orchestrator attach"), "{refusal}");

    // attach replays from the start and follows to the end.
    let out = hosts.ssh("h1", "sudo -n backup-orchestrator attach --json");
    assert_eq!(code(&out), 0, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!((summary.total_services, summary.successful), (15, 15));
    assert!(
        refusal.contains(&summary.run_id),
        "refusal names the running run: {refusal}"
    );
    let plain = hosts.ssh("h1", "sudo -n backup-orchestrator attach");
    let plain = text(&plain.stdout);
    for unit in PLAN_UNITS {
        assert!(
            plain.contains(unit),
            "attach output misses {unit}:\n{plain}"
        );
    }
    assert!(plain.contains("Stage 0"), "{plain}");
}
