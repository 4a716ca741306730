//! The agent under faults and hostile input on real hosts (issue 9): a state directory that fills
//! up mid-run, plan files a non-root user could write, `run-owned` started by hand, and
//! `check-plan`. Every wait is bounded.

use std::thread;
use std::time::{Duration, Instant};

use backup_orchestrator_tests::{HostSpec, PLAN_UNITS, Sudo, TestHosts, UnitSet, agent_binary};

use crate::support::{code, show, started_units, text, write_remote_file};

const STATE_DIR: &str = "/var/lib/backup-orchestrator";

fn boot(group: &str, units: UnitSet) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(units),
            ..HostSpec::new(1)
        },
    )
}

/// Runs `script` as root on h1 through the harness (setup and inspection, not under test).
fn root(hosts: &TestHosts, script: &str) -> std::process::Output {
    hosts.root("h1", script)
}

fn root_ok(hosts: &TestHosts, script: &str) -> String {
    hosts.root_ok("h1", script)
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn agent_keeps_running_and_marks_its_log_incomplete_when_the_state_disk_fills_mid_run() {
    let hosts = boot("bd-full", UnitSet::user_plan(1.0));
    // A tiny filesystem of its own under the state directory.
    root_ok(
        &hosts,
        &format!("mkdir -p {STATE_DIR} && mount -t tmpfs -o size=1M,mode=0750 tmpfs {STATE_DIR}"),
    );

    let started = Instant::now();
    let (run, filled) = thread::scope(|scope| {
        let run = scope.spawn(|| hosts.ssh("h1", "sudo -n backup-orchestrator --yes --json"));
        // As soon as the run has written its first events: fill the disk up to the last byte.
        wait_until(Duration::from_secs(20), "the run's first events", || {
            root(&hosts, &format!("test -s {STATE_DIR}/runs/*/events"))
                .status
                .success()
        });
        let filled = root(
            &hosts,
            &format!("dd if=/dev/zero of={STATE_DIR}/filler bs=4k 2>&1; df -k {STATE_DIR}"),
        );
        // Units go on starting and finishing while nothing can be written, then space returns.
        thread::sleep(Duration::from_millis(2500));
        root_ok(&hosts, &format!("rm -f {STATE_DIR}/filler"));
        (run.join().expect("the run's thread"), filled)
    });
    let took = started.elapsed();
    let filled = text(&filled.stdout);
    assert!(filled.contains("No space left on device"), "{filled}");

    // Every unit ran exactly once and the run finished with its verdict.
    assert_eq!(code(&run), 0, "{}", show(&run));
    let mut expected: Vec<String> = PLAN_UNITS.iter().map(|u| (*u).to_owned()).collect();
    expected.sort();
    assert_eq!(started_units(&hosts, "h1"), expected);
    assert!(took < Duration::from_secs(40), "the run took {took:?}");
    let stderr = text(&run.stderr);
    assert!(
        stderr.contains("event log incomplete on h1: No space left on device"),
        "{stderr}"
    );

    // Space came back before the end: the summary is on disk, the log reads to its end.
    let summary = root_ok(&hosts, &format!("cat {STATE_DIR}/runs/*/summary.json"));
    assert!(summary.contains("\"successful\": 15"), "{summary}");
    let attach = hosts.ssh("h1", "sudo -n backup-orchestrator attach");
    assert_eq!(code(&attach), 0, "{}", show(&attach));
    let replay = text(&attach.stdout);
    assert!(
        replay.contains("event log incomplete on h1: No space left on device"),
        "{replay}"
    );
    assert!(!show(&attach).contains("decode"), "{}", show(&attach));
    let status = hosts.ssh("h1", "sudo -n backup-orchestrator status");
    assert_eq!(code(&status), 0, "{}", show(&status));
    assert!(
        text(&status.stderr).contains("event log incomplete on h1"),
        "{}",
        show(&status)
    );
    // The journal has every event, the lost ones included.
    let journal = root_ok(
        &hosts,
        "journalctl --no-pager -o cat -u backup-orchestrator-run.service",
    );
    assert!(journal.contains("event log incomplete"), "{journal}");
    root_ok(&hosts, &format!("umount {STATE_DIR}"));
}

const GOOD_PLAN: &str = r#"
[[stage]]
name = "snapshots"
units = ["sanoid.service"]
timeout = "1m"
"#;

#[test]
fn agent_as_root_refuses_plans_others_can_write_and_run_owned_by_hand() {
    let hosts = boot("bd-plan", UnitSet::user_plan(0.1));
    // Owned by the user who may run `sudo backup-orchestrator`.
    hosts.ssh_ok(
        "h1",
        &format!(
            "printf %s {} > /home/deploy/plan.toml",
            shell_quote(GOOD_PLAN)
        ),
    );
    let user_owned = hosts.ssh(
        "h1",
        "sudo -n backup-orchestrator --yes --plan /home/deploy/plan.toml",
    );
    assert_eq!(code(&user_owned), 64, "{}", show(&user_owned));
    let message = text(&user_owned.stderr);
    assert!(
        message.contains("refuse plan file /home/deploy/plan.toml: it is not owned by root")
            && message.contains("mode 0"),
        "{message}"
    );

    // Root's, but world- or group-writable; or root's in a directory others can write.
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/open.toml",
        GOOD_PLAN,
    );
    write_remote_file(&hosts, "h1", "/srv/open/plan.toml", GOOD_PLAN);
    root_ok(
        &hosts,
        "chmod 0666 /etc/backup-orchestrator/open.toml && chmod 0777 /srv/open",
    );
    for (plan, says) in [
        (
            "/etc/backup-orchestrator/open.toml",
            "group or others can write to it (owner uid 0, mode 0666)",
        ),
        (
            "/srv/open/plan.toml",
            "refuse plan file /srv/open: group or others can write to this directory",
        ),
    ] {
        let out = hosts.ssh(
            "h1",
            &format!("sudo -n backup-orchestrator --yes --plan {plan}"),
        );
        assert_eq!(code(&out), 64, "{plan}: {}", show(&out));
        assert!(text(&out.stderr).contains(says), "{plan}: {}", show(&out));
    }
    // The same file at the default path is refused too.
    root_ok(
        &hosts,
        "cp /etc/backup-orchestrator/open.toml /etc/backup-orchestrator/plan.toml && chmod 0664 /etc/backup-orchestrator/plan.toml",
    );
    let default = hosts.ssh("h1", "sudo -n backup-orchestrator --yes");
    assert_eq!(code(&default), 64, "{}", show(&default));
    assert!(
        text(&default.stderr).contains("/etc/backup-orchestrator/plan.toml"),
        "{}",
        show(&default)
    );

    // run-owned outside its unit: refused before anything.
    let by_hand = hosts.ssh(
        "h1",
        "sudo -n backup-orchestrator run-owned --run-id 20251103T120000Z-ab12",
    );
    assert_eq!(code(&by_hand), 64, "{}", show(&by_hand));
    assert!(
        text(&by_hand.stderr).contains("run-owned runs only inside the transient unit"),
        "{}",
        show(&by_hand)
    );
    assert!(
        !root(
            &hosts,
            &format!("test -e {STATE_DIR}/runs/20251103T120000Z-ab12")
        )
        .status
        .success(),
        "run-owned by hand created its run"
    );
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());

    // A state directory others can write to: no run, a clear error.
    root_ok(
        &hosts,
        &format!(
            "rm /etc/backup-orchestrator/plan.toml && mkdir -p {STATE_DIR} && chmod 0777 {STATE_DIR}"
        ),
    );
    let open_state = hosts.ssh("h1", "sudo -n backup-orchestrator --yes");
    assert_eq!(code(&open_state), 3, "{}", show(&open_state));
    assert!(
        text(&open_state.stderr)
            .contains(&format!("use {STATE_DIR}: group or others can write to it")),
        "{}",
        show(&open_state)
    );
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
}

#[test]
fn check_plan_lists_what_each_pattern_matches_and_refuses_a_target() {
    let hosts = boot("bd-check", UnitSet::user_plan(0.1));
    // The built-in plan (no file): every stage resolved against the host's units.
    let builtin = hosts.ssh("h1", "sudo -n backup-orchestrator check-plan");
    assert_eq!(code(&builtin), 0, "{}", show(&builtin));
    let listing = text(&builtin.stdout);
    assert!(
        listing.contains("plan built-in default: valid; 4 stage(s)"),
        "{listing}"
    );
    assert!(
        listing.contains("stage 2 replication: parallel no limit, timeout 30m"),
        "{listing}"
    );
    assert!(
        listing.contains("  syncoid-*.service: syncoid-tank-services-grafana.service, "),
        "{listing}"
    );
    assert!(!listing.contains("syncoid-replication-info"), "{listing}");

    // A stage that matches nothing: a warning, still exit 0.
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/plan.toml",
        "[[stage]]\nname = \"ghosts\"\nunits = [\"ghost-*.service\", \"nothere.service\"]\n",
    );
    let empty = hosts.ssh("h1", "sudo -n backup-orchestrator check-plan");
    assert_eq!(code(&empty), 0, "{}", show(&empty));
    assert!(
        text(&empty.stdout).contains("  nothere.service: (no unit on this host)"),
        "{}",
        show(&empty)
    );
    assert!(
        text(&empty.stderr).contains("stage ghosts matches no unit on this host"),
        "{}",
        show(&empty)
    );

    // A target: 64 with file:line:column.
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/target.toml",
        "[[stage]]\nname = \"t\"\nunits = [\"sanoid.service\", \"multi-user.target\"]\n",
    );
    let target = hosts.ssh(
        "h1",
        "sudo -n backup-orchestrator check-plan /etc/backup-orchestrator/target.toml",
    );
    assert_eq!(code(&target), 64, "{}", show(&target));
    assert!(
        text(&target.stderr).contains(
            "/etc/backup-orchestrator/target.toml:3:28: a plan starts .service units only"
        ),
        "{}",
        show(&target)
    );

    // --no-host as the plain user, on the user's own file: syntax only.
    hosts.ssh_ok(
        "h1",
        &format!(
            "printf %s {} > /home/deploy/plan.toml",
            shell_quote(GOOD_PLAN)
        ),
    );
    let no_host = hosts.ssh(
        "h1",
        "backup-orchestrator check-plan --no-host /home/deploy/plan.toml",
    );
    assert_eq!(code(&no_host), 0, "{}", show(&no_host));
    assert!(
        text(&no_host.stdout).contains("syntax checked only (--no-host)"),
        "{}",
        show(&no_host)
    );
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
}

#[test]
fn serve_only_hosts_let_the_test_user_sudo_nothing_but_serve() {
    let hosts = TestHosts::up(
        "bd-sudo",
        HostSpec {
            agent: Some(agent_binary()),
            sudo: Sudo::ServeOnly,
            ..HostSpec::new(1)
        },
    );
    let allowed = hosts.ssh("h1", "sudo -n -l /usr/local/bin/backup-orchestrator serve");
    assert_eq!(code(&allowed), 0, "{}", show(&allowed));
    for other in [
        "sudo -n true",
        "sudo -n backup-orchestrator status",
        "sudo -n backup-orchestrator --yes",
    ] {
        let out = hosts.ssh("h1", other);
        assert_ne!(code(&out), 0, "{other}: {}", show(&out));
        assert!(
            text(&out.stderr).contains("a password is required"),
            "{other}: {}",
            show(&out)
        );
    }
    // Root for setup comes from the harness.
    assert_eq!(hosts.root_ok("h1", "id -u").trim(), "0");
}
