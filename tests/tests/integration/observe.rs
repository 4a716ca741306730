//! Observing hosts from the laptop: `backup-orchestrator-ctl logs`, `history`, `attach --run` and
//! `check` (the Nagios/Icinga plugin) against real hosts over SSH, and `--json`'s error object
//! when a host cannot be reached.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use backup_orchestrator_tests::{
    HostSpec, TestHosts, UnitSet, agent_binary, controller_binary, output_with_timeout,
};

use crate::schema::Summary;
use crate::support::{code, show, text, write_remote_file};

const CTL_TIMEOUT: Duration = Duration::from_secs(120);
/// The unit that fails on h2 and h3, saying why in its own words.
const LOUD: &str = "restic-backup-immich.service";
const LOUD_LINE: &str = "Fatal: unable to open repository at sftp:nas:/immich: no route to host";
/// With [`LOUD`], 8 of the 15 units fail on h3: above the plan's 50 %, critical.
const MANY: [&str; 7] = [
    "restic-backup-plex.service",
    "restic-backup-sonarr.service",
    "restic-backup-radarr.service",
    "restic-backup-home-assistant.service",
    "restic-backup-paperless.service",
    "pgbackrest-full-backup.service",
    "syncoid-tank-services-postgresql.service",
];

/// Three hosts of the user's plan: h1 all succeed, h2 one unit fails, h3 many fail.
fn boot(group: &str) -> TestHosts {
    let hosts = TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(UnitSet::user_plan(0.0)),
            ..HostSpec::new(3)
        },
    );
    let failing = |unit: &str, line: &str| {
        format!(
            "[Unit]\nDescription=failing {unit}\n\n[Service]\nType=oneshot\n\
             ExecStart=/bin/sh -c 'echo \"{line}\"; exit 1'\n"
        )
    };
    for host in ["h2", "h3"] {
        let path = format!("/etc/systemd/system/{LOUD}");
        write_remote_file(&hosts, host, &path, &failing(LOUD, LOUD_LINE));
    }
    for unit in MANY {
        let path = format!("/etc/systemd/system/{unit}");
        write_remote_file(&hosts, "h3", &path, &failing(unit, "failed"));
    }
    for host in ["h2", "h3"] {
        hosts.ssh_ok(host, "sudo -n systemctl daemon-reload");
    }
    hosts
}

fn ctl_with(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(controller_binary());
    cmd.arg("--ssh-config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null());
    output_with_timeout(&mut cmd, CTL_TIMEOUT).unwrap_or_else(|t| panic!("ctl {args:?}: {t}"))
}

fn ctl(hosts: &TestHosts, args: &[&str]) -> Output {
    ctl_with(&hosts.ssh_config(), args)
}

#[test]
fn observe_logs_history_and_check_read_the_kept_runs_without_starting_any() {
    let hosts = boot("obs");
    // Nothing ran yet: CRITICAL, no finished run.
    let out = ctl(&hosts, &["check", "h1", "--max-age", "26h"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert_eq!(
        text(&out.stdout),
        "BACKUP CRITICAL - h1: no finished run kept on this host\n"
    );

    let out = ctl(&hosts, &["--yes", "--json", "h1", "h2", "h3"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let out = ctl(&hosts, &["--yes", "--json", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let second = Summary::parse(&out.stdout);

    // check: one line per host, OK / WARNING / CRITICAL with perfdata, the worst code.
    for (host, expected, status) in [("h1", 0, "OK"), ("h2", 1, "WARNING"), ("h3", 2, "CRITICAL")] {
        let out = ctl(&hosts, &["check", host, "--max-age", "26h"]);
        assert_eq!(code(&out), expected, "{host}: {}", show(&out));
        let line = text(&out.stdout);
        assert!(
            line.starts_with(&format!("BACKUP {status} - {host}: last run ")),
            "{line}"
        );
        assert!(line.contains(" | failed="), "{line}");
        assert!(
            line.contains(";;93600;0\n"),
            "age with max-age as critical: {line}"
        );
    }
    let out = ctl(&hosts, &["check", "h1", "h2", "h3", "--max-age", "26h"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert_eq!(text(&out.stdout).lines().count(), 3, "{}", show(&out));
    assert!(
        text(&out.stdout).contains("h2: last run "),
        "{}",
        show(&out)
    );
    // Too old: CRITICAL even though the run was fine.
    thread::sleep(Duration::from_secs(2));
    let out = ctl(&hosts, &["check", "h1", "--max-age", "1s"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        text(&out.stdout).contains("older than --max-age 1s"),
        "{}",
        show(&out)
    );
    let out = ctl(&hosts, &["--json", "check", "h2", "--max-age", "26h"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["host"], "h2");
    assert_eq!(value["status"], "WARNING");
    assert_eq!(value["failed"], 1);

    // history: both runs of h1, oldest first; --json names the host.
    let out = ctl(&hosts, &["history", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "a header and two runs: {table}");
    assert!(rows[0].starts_with("HOST"), "{table}");
    assert!(
        rows[2].starts_with(&format!("h1    {}", second.run_id)),
        "{table}"
    );
    assert!(rows.iter().skip(1).all(|r| r.contains("ok (0)")), "{table}");
    let out = ctl(&hosts, &["--json", "history", "h3"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value["host"], "h3");
    assert_eq!(value["runs"][0]["exit_code"], 2);
    assert_eq!(value["runs"][0]["failed"], 8);

    // attach --run replays h1's first run, not its last.
    let first_id = table
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    let out = ctl(&hosts, &["--json", "attach", "h1", "--run", first_id]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(Summary::parse(&out.stdout).run_id, first_id);

    // logs: the failing unit's own line; a unit the plan does not name is refused (64).
    let out = ctl(&hosts, &["logs", "h2", LOUD, "-n", "20"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        text(&out.stdout).lines().any(|l| l == LOUD_LINE),
        "{}",
        show(&out)
    );
    let out = ctl(&hosts, &["logs", "h2", "ssh.service"]);
    assert_eq!(code(&out), 64, "{}", show(&out));
    assert!(
        text(&out.stderr).contains("not a unit of this host's plan"),
        "{}",
        show(&out)
    );
}

#[test]
fn observe_json_prints_the_error_object_when_the_host_is_unreachable() {
    let hosts = TestHosts::up(
        "obs-down",
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(UnitSet::new()),
            ..HostSpec::new(1)
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    // An address on the group's own (live) bridge subnet where no host answers.
    let ip = hosts.ip("h1").to_string();
    let dead = format!("{}.99", ip.rsplit_once('.').expect("ipv4").0);
    let config = dir.path().join("ssh_config");
    fs::write(
        &config,
        format!(
            "Host dead\n    HostName {dead}\n    User deploy\n    IdentityFile {}\n",
            hosts.identity().display()
        ),
    )
    .expect("write");
    for args in [
        &["--connect-timeout", "3", "--json", "--yes", "dead"][..],
        &["--connect-timeout", "3", "--json", "status", "dead"][..],
        &["--connect-timeout", "3", "--json", "history", "dead"][..],
    ] {
        let out = ctl_with(&config, args);
        assert_eq!(code(&out), 3, "{args:?}: {}", show(&out));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", show(&out)));
        assert_eq!(value["host"], "dead", "{value}");
        assert_eq!(value["exit_code"], 3, "{value}");
        assert!(
            value["error"].as_str().is_some_and(|e| e.contains(&dead)),
            "{value}"
        );
    }
    // check says UNKNOWN, as a line or as the same object.
    let out = ctl_with(
        &config,
        &["--connect-timeout", "3", "check", "dead", "--max-age", "1h"],
    );
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with("BACKUP UNKNOWN - dead: could not ask: "),
        "{}",
        show(&out)
    );
    let out = ctl_with(
        &config,
        &[
            "--connect-timeout",
            "3",
            "--json",
            "check",
            "dead",
            "--max-age",
            "1h",
        ],
    );
    assert_eq!(code(&out), 3, "{}", show(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (&value["host"], &value["exit_code"]),
        (&"dead".into(), &3.into())
    );
}
