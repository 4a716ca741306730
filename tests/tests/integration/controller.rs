//! The controller `backup-orchestrator-ctl` from this machine (the laptop's place) against real
//! hosts over SSH: the whole path a deploy pipeline takes, and every way it can go wrong.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use backup_orchestrator_tests::{
    HostSpec, PLAN_UNITS, Sudo, TestHosts, UnitSet, agent_binary, controller_binary,
    output_with_timeout,
};

use crate::schema::Summary;
use crate::support::{
    assert_whole_after_reconnect, code, show, started_units, text, wait_bounded,
    wait_for_started_units,
};

const CTL_TIMEOUT: Duration = Duration::from_secs(120);

/// Hosts where `deploy` may run exactly the README's rule, `sudo backup-orchestrator serve`:
/// the boundary users deploy. Setup and inspection as root go through the harness.
fn boot(group: &str, count: usize, units: UnitSet) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(units),
            sudo: Sudo::ServeOnly,
            ..HostSpec::new(count)
        },
    )
}

/// `backup-orchestrator-ctl --ssh-config <the group's> ARGS…`, bounded in time.
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

/// Starts the controller in the background (collect it with [`wait_bounded`] or kill it).
fn spawn_ctl(hosts: &TestHosts, args: &[&str]) -> Child {
    Command::new(controller_binary())
        .arg("--ssh-config")
        .arg(hosts.ssh_config())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctl")
}

/// The agent's own summary of `run_id`, as written on the host.
fn host_summary(hosts: &TestHosts, run_id: &str) -> Summary {
    let json = hosts.root_ok(
        "h1",
        &format!("cat /var/lib/backup-orchestrator/runs/{run_id}/summary.json"),
    );
    Summary::parse(json.as_bytes())
}

/// A copy of the group's ssh_config whose known_hosts file is `known_hosts`.
fn config_with_known_hosts(hosts: &TestHosts, dir: &Path, known_hosts: &Path) -> PathBuf {
    let original = fs::read_to_string(hosts.ssh_config()).expect("read ssh_config");
    let rewritten = original.replace(
        &hosts.known_hosts().display().to_string(),
        &known_hosts.display().to_string(),
    );
    assert_ne!(
        original, rewritten,
        "ssh_config names no UserKnownHostsFile"
    );
    let path = dir.join("ssh_config");
    fs::write(&path, rewritten).expect("write ssh_config");
    path
}

#[test]
fn controller_reports_success_partial_and_critical_with_the_agents_own_summary() {
    let hosts = boot(
        "ct-verdict",
        1,
        UnitSet::user_plan(0.1).fail("syncoid-tank-services-sonarr", 1),
    );
    let out = ctl(&hosts, &["--yes", "--json", "h1"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!(
        (
            summary.total_services,
            summary.failed,
            summary.failure_rate_percent
        ),
        (15, 1, 6)
    );
    assert_eq!(
        summary,
        host_summary(&hosts, &summary.run_id),
        "ctl and agent disagree"
    );

    // Plain lines without a terminal: one per event, no ANSI codes.
    let out = ctl(&hosts, &["--yes", "h1"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}'),
        "ANSI codes without a terminal:\n{stdout}"
    );
    assert!(
        stdout.contains("syncoid-tank-services-sonarr.service failed"),
        "{stdout}"
    );
    for unit in PLAN_UNITS {
        assert!(stdout.contains(unit), "{unit} missing:\n{stdout}");
    }

    // Make it critical: 9 of 15 failing.
    let mut many = String::new();
    for unit in &PLAN_UNITS[1..10] {
        many += &format!(
            "mkdir -p /run/systemd/system/{unit}.d && printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\n' > /run/systemd/system/{unit}.d/fail.conf; "
        );
    }
    hosts.root_ok("h1", &format!("{many} systemctl daemon-reload"));
    let out = ctl(&hosts, &["--yes", "--json", "h1"]);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!(summary.failed, 9);
    assert_eq!(summary, host_summary(&hosts, &summary.run_id));

    // Dry run: starts nothing, exit 0 (preflight passes), no confirmation needed.
    let before = started_units(&hosts, "h1").len();
    let out = ctl(&hosts, &["--dry-run", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(
        started_units(&hosts, "h1").len(),
        before,
        "a dry run started units"
    );
}

#[test]
fn controller_refuses_an_unknown_host_key_then_accepts_and_records_it_with_the_flag() {
    let hosts = boot("ct-newkey", 1, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let known = dir.path().join("known_hosts");
    fs::write(&known, "").expect("empty known_hosts");
    let config = config_with_known_hosts(&hosts, dir.path(), &known);

    let out = ctl_with(&config, &["status", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("SHA256:"), "no fingerprint: {stderr}");
    assert!(
        stderr.contains("--accept-new-host-key"),
        "no way forward: {stderr}"
    );
    assert_eq!(
        fs::read_to_string(&known).expect("read"),
        "",
        "recorded without the flag"
    );

    let out = ctl_with(&config, &["--accept-new-host-key", "status", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let recorded = fs::read_to_string(&known).expect("read");
    assert!(
        recorded.contains(&hosts.ip("h1").to_string()),
        "not recorded: {recorded:?}"
    );
    assert!(recorded.contains("ssh-ed25519 "), "{recorded:?}");
    // Now known: plain strict mode connects.
    let out = ctl_with(&config, &["status", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}

#[test]
fn controller_refuses_a_changed_host_key_and_starts_nothing() {
    let hosts = boot("ct-badkey", 2, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    // h1's address with h2's key: what a MITM (or a reinstalled host) looks like.
    let lines = fs::read_to_string(hosts.known_hosts()).expect("read known_hosts");
    let h2_key = lines
        .lines()
        .find(|l| l.starts_with(&format!("{} ", hosts.ip("h2"))))
        .expect("h2's key")
        .split_once(' ')
        .expect("host and key")
        .1
        .to_owned();
    let known = dir.path().join("known_hosts");
    fs::write(
        &known,
        format!("# first line\n{} {h2_key}\n", hosts.ip("h1")),
    )
    .expect("write");
    let config = config_with_known_hosts(&hosts, dir.path(), &known);

    for accept in [false, true] {
        let mut args = vec!["--yes", "h1"];
        if accept {
            args.insert(0, "--accept-new-host-key");
        }
        let out = ctl_with(&config, &args);
        assert_eq!(code(&out), 3, "{}", show(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{}:2", known.display())),
            "no file:line: {stderr}"
        );
    }
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
}

#[test]
fn controller_exits_3_within_the_timeout_when_the_host_is_unreachable() {
    let hosts = boot("ct-down", 1, UnitSet::new());
    let dir = tempfile::tempdir().expect("temp dir");
    // An address on the group's own bridge subnet where no host answers.
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
    let started = Instant::now();
    let out = ctl_with(&config, &["--connect-timeout", "3", "--yes", "dead"]);
    let took = started.elapsed();
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(text(&out.stderr).contains(&dead), "{}", show(&out));
}

#[test]
fn controller_exits_3_in_seconds_when_sudo_wants_a_password_or_the_agent_is_missing() {
    // Broad sudo: under the serve-only rule sudo refuses another agent path as "a password is
    // required" (answered with the rule to add) before it could say the command is missing.
    let hosts = TestHosts::up(
        "ct-sudo",
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(UnitSet::user_plan(0.0)),
            sudo: Sudo::All,
            ..HostSpec::new(1)
        },
    );
    let started = Instant::now();
    let out = ctl(&hosts, &["-l", "needpw", "--yes", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("NOPASSWD"), "no sudoers fix in: {stderr}");
    assert!(stderr.contains("needpw"), "{stderr}");

    let out = ctl(
        &hosts,
        &[
            "--agent-path",
            "/opt/nowhere/backup-orchestrator",
            "--yes",
            "h1",
        ],
    );
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.to_lowercase().contains("not installed") || stderr.contains("not found"),
        "{stderr}"
    );
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());
}

#[test]
fn controller_reaches_a_host_through_proxyjump() {
    let hosts = boot("ct-jump", 2, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = fs::read_to_string(hosts.ssh_config()).expect("read");
    config += &format!(
        "\nHost h2-via-h1\n    HostName {}\n    User deploy\n    IdentityFile {}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    ProxyJump h1\n",
        hosts.ip("h2"),
        hosts.identity().display(),
        hosts.known_hosts().display()
    );
    let path = dir.path().join("ssh_config");
    fs::write(&path, config).expect("write");
    let out = ctl_with(&path, &["--yes", "--json", "h2-via-h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!(summary.successful, 15);
    // The session to h2 came from h1's address, not from this machine.
    let from = hosts.root_ok(
        "h2",
        "journalctl --no-pager -u ssh -o cat | grep 'Accepted publickey' | tail -n 20",
    );
    assert!(
        from.contains(&hosts.ip("h1").to_string()),
        "no login from h1 on h2:\n{from}"
    );
}

/// PID of the `sshd` process serving the controller's session on h1 (the parent chain of the
/// agent's `serve` process), found from the host's process table.
fn session_sshd_pid(hosts: &TestHosts) -> Option<String> {
    let script = "pid=$(pgrep -f 'backup-orchestrator serve' | head -n1); \
        while [ -n \"$pid\" ] && [ \"$pid\" != 1 ]; do \
          if [ \"$(cat /proc/$pid/comm)\" = sshd ]; then echo $pid; exit 0; fi; \
          pid=$(awk '{print $4}' /proc/$pid/stat); \
        done";
    let pid = hosts.ssh_ok("h1", script).trim().to_owned();
    (!pid.is_empty()).then_some(pid)
}

#[test]
fn controller_reattaches_by_itself_when_the_connection_is_cut_mid_run() {
    let hosts = boot("ct-cut", 1, UnitSet::user_plan(1.0));
    let child = spawn_ctl(&hosts, &["--yes", "--json", "h1"]);
    let mut cut = false;
    for _ in 0..50 {
        thread::sleep(Duration::from_millis(200));
        if started_units(&hosts, "h1").len() >= 2
            && let Some(pid) = session_sshd_pid(&hosts)
        {
            hosts.root_ok("h1", &format!("kill {pid}"));
            cut = true;
            break;
        }
    }
    assert!(cut, "never found the session to cut");
    let out = wait_bounded(child, CTL_TIMEOUT);
    assert_whole_after_reconnect(&out);
}

#[test]
fn controller_killed_mid_run_leaves_the_run_going_and_attach_shows_all_of_it() {
    let hosts = boot("ct-kill", 1, UnitSet::user_plan(1.0));
    let mut child = spawn_ctl(&hosts, &["--yes", "h1"]);
    wait_for_started_units(&hosts, 1);
    child.kill().expect("SIGKILL ctl");
    child.wait().expect("reap ctl");
    assert!(
        !started_units(&hosts, "h1").is_empty(),
        "no unit ever started"
    );

    let out = ctl(&hosts, &["attach", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let stdout = text(&out.stdout);
    for unit in PLAN_UNITS {
        assert!(stdout.contains(unit), "attach misses {unit}:\n{stdout}");
    }
    let out = ctl(&hosts, &["--json", "attach", "h1"]);
    let summary = Summary::parse(&out.stdout);
    assert_eq!(summary.successful, 15);
}

#[test]
fn controller_draws_bars_on_a_terminal() {
    let hosts = boot(
        "ct-tty",
        1,
        UnitSet::user_plan(0.3).fail("restic-backup-radarr", 1),
    );
    // util-linux `script` gives the controller a pseudo-terminal.
    let command = format!(
        "{} --ssh-config {} --yes h1",
        controller_binary().display(),
        hosts.ssh_config().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "100");
    let out = output_with_timeout(&mut cmd, CTL_TIMEOUT).expect("ctl in a pty");
    assert_eq!(code(&out), 1, "{}", show(&out));
    let screen = text(&out.stdout);
    assert!(screen.contains('\u{1b}'), "no terminal drawing:\n{screen}");
    assert!(
        screen.contains("✘") && screen.contains("restic-backup-radarr.service"),
        "{screen}"
    );
    assert!(screen.contains("✔"), "{screen}");
}

/// A stand-in agent: a shell script that writes `stdout` (octal-escaped for printf) and then
/// drains its input, like a real peer that will not go on.
fn scripted_agent(dir: &Path, stdout: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let escaped: String = stdout.iter().map(|b| format!("\\{b:03o}")).collect();
    let path = dir.join("backup-orchestrator");
    fs::write(
        &path,
        format!("#!/bin/sh\nprintf '{escaped}'\ncat >/dev/null\n"),
    )
    .expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn controller_exits_3_naming_both_versions_when_the_agent_speaks_another_protocol() {
    use backup_orchestrator_proto::codec::encode_frame;
    use backup_orchestrator_proto::{Hello, Role};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut newer = Hello::new(Role::Agent, "backup-orchestrator 9.0.0");
    newer.protocol.major = 9;
    let agent = scripted_agent(dir.path(), &encode_frame(&newer).expect("encode"));
    let hosts = TestHosts::up(
        "ct-skew",
        HostSpec {
            agent: Some(agent),
            ..HostSpec::new(1)
        },
    );
    let out = ctl(&hosts, &["--yes", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("backup-orchestrator 9.0.0"), "{stderr}");
    assert!(
        stderr.contains(env!("CARGO_PKG_VERSION")),
        "our version missing: {stderr}"
    );
    assert!(stderr.contains("upgrade"), "{stderr}");
}

#[test]
fn controller_exits_3_quoting_the_text_when_the_agent_side_prints_garbage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = scripted_agent(dir.path(), b"Welcome to forge! Last login: never\n");
    let hosts = TestHosts::up(
        "ct-garbage",
        HostSpec {
            agent: Some(agent),
            ..HostSpec::new(1)
        },
    );
    let started = Instant::now();
    let out = ctl(&hosts, &["--yes", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        text(&out.stderr).contains("Welcome to forge!"),
        "{}",
        show(&out)
    );
}

#[test]
fn controller_cancel_stops_the_run_and_its_units_and_the_summary_says_so() {
    let hosts = boot("ct-cancel", 1, UnitSet::user_plan(3.0));
    let run = spawn_ctl(&hosts, &["--yes", "--json", "h1"]);
    wait_for_started_units(&hosts, 1);
    let out = ctl(&hosts, &["cancel", "h1", "--stop-units"]);
    assert_eq!(code(&out), 0, "{}", show(&out));

    let out = wait_bounded(run, CTL_TIMEOUT);
    let summary = Summary::parse(&out.stdout);
    assert!(summary.cancelled, "{}", show(&out));
    assert!(
        summary.successful < 15,
        "everything ran despite the cancel: {summary:?}"
    );
    let skipped = summary
        .units
        .iter()
        .filter(|u| u.outcome == "skipped")
        .count();
    assert!(skipped > 0, "nothing was left unstarted: {summary:?}");
    // Nothing is left running on the host.
    let active = hosts.ssh_ok("h1", "systemctl list-units --state=active,activating --no-legend 'restic-*' 'syncoid-*' 'sanoid*' 'pgbackrest-*'");
    assert_eq!(
        active.trim(),
        "",
        "units still running after cancel --stop-units"
    );

    // Nothing to cancel any more: exit 3 with a clear word.
    let out = ctl(&hosts, &["cancel", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
}
