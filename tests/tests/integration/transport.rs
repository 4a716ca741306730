//! `--transport openssh` against real hosts: the system `ssh` carries the same protocol, so a
//! config the native transport refuses (a `Match` block) runs end to end, and what only OpenSSH
//! does (ProxyCommand, ControlMaster) works; a killed `ssh` is reconnected and attached; status
//! and cancel go through it too; ssh's own failures and the agent's read as with native.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use backup_orchestrator_tests::{
    HostSpec, PLAN_UNITS, TestHosts, UnitSet, agent_binary, controller_binary, output_with_timeout,
};

use crate::schema::Summary;
use crate::support::{
    assert_whole_after_reconnect, code, show, started_units, text, wait_bounded,
    wait_for_started_units,
};

const CTL_TIMEOUT: Duration = Duration::from_secs(120);

fn boot(group: &str, count: usize, units: UnitSet) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(units),
            ..HostSpec::new(count)
        },
    )
}

fn ctl_command(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(controller_binary());
    cmd.arg("-F").arg(config).args(args).stdin(Stdio::null());
    cmd
}

fn ctl(config: &Path, args: &[&str]) -> Output {
    output_with_timeout(&mut ctl_command(config, args), CTL_TIMEOUT)
        .unwrap_or_else(|t| panic!("ctl {args:?}: {t}"))
}

fn spawn_ctl(config: &Path, args: &[&str]) -> Child {
    ctl_command(config, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctl")
}

/// The group's ssh_config with `extra` appended, in `dir`.
fn config_with(hosts: &TestHosts, dir: &Path, extra: &str) -> PathBuf {
    let original = fs::read_to_string(hosts.ssh_config()).expect("read ssh_config");
    let path = dir.join("ssh_config");
    fs::write(&path, format!("{original}{extra}")).expect("write ssh_config");
    path
}

/// The agent's own summary of `run_id`, as written on the host.
fn host_summary(hosts: &TestHosts, host: &str, run_id: &str) -> Summary {
    let json = hosts.ssh_ok(
        host,
        &format!("sudo -n cat /var/lib/backup-orchestrator/runs/{run_id}/summary.json"),
    );
    Summary::parse(json.as_bytes())
}

#[test]
fn transport_openssh_runs_a_host_whose_match_block_native_refuses() {
    let hosts = boot(
        "tr-match",
        1,
        UnitSet::user_plan(0.1).fail("syncoid-tank-services-sonarr", 1),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(
        &hosts,
        dir.path(),
        "\nMatch host *\n    StrictHostKeyChecking yes\n",
    );
    let match_line = fs::read_to_string(&config).unwrap().lines().count() - 1;

    let out = ctl(&config, &["--yes", "--json", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:{match_line}: Match host *", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("--transport openssh"), "{stderr}");
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());

    let out = ctl(
        &config,
        &["--transport", "openssh", "--yes", "--json", "h1"],
    );
    assert_eq!(code(&out), 1, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!(
        (summary.total_services, summary.failed),
        (15, 1),
        "{summary:?}"
    );
    assert_eq!(
        summary,
        host_summary(&hosts, "h1", &summary.run_id),
        "ctl and agent disagree"
    );
}

#[test]
fn transport_openssh_reaches_h2_through_a_proxycommand_on_h1() {
    let hosts = boot("tr-proxy", 2, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let base = hosts.ssh_config();
    let extra = format!(
        "\nHost h2-via-h1\n    HostName {}\n    User deploy\n    IdentityFile {}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    ProxyCommand ssh -F {} -W %h:%p h1\n",
        hosts.ip("h2"),
        hosts.identity().display(),
        hosts.known_hosts().display(),
        base.display(),
    );
    let config = config_with(&hosts, dir.path(), &extra);

    let out = ctl(&config, &["--yes", "--json", "h2-via-h1"]);
    assert_eq!(
        code(&out),
        3,
        "native must refuse ProxyCommand: {}",
        show(&out)
    );
    assert!(
        text(&out.stderr).contains(": proxycommand ssh -F"),
        "{}",
        show(&out)
    );

    let out = ctl(
        &config,
        &["--transport", "openssh", "--yes", "--json", "h2-via-h1"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let summary = Summary::parse(&out.stdout);
    assert_eq!(summary.successful, 15);
    // The session to h2 came from h1's address, not from this machine.
    let from = hosts.ssh_ok(
        "h2",
        "sudo -n journalctl --no-pager -u ssh -o cat | grep 'Accepted publickey' | tail -n 20",
    );
    assert!(
        from.contains(&format!("from {} ", hosts.ip("h1"))),
        "no login from h1 on h2:\n{from}"
    );
}

#[test]
fn transport_openssh_uses_a_controlmaster_connection() {
    let hosts = boot("tr-master", 1, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("master-%C");
    let extra = format!(
        "\nHost h1\n    ControlMaster auto\n    ControlPath {}\n    ControlPersist 60\n",
        socket.display()
    );
    // ssh takes the first value: the group's `Host h1` block sets none of these.
    let config = config_with(&hosts, dir.path(), &extra);
    let openssh = ["--transport", "openssh", "--yes", "--json", "h1"];

    let out = ctl(&config, &openssh);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let check = |config: &Path, op: &str| {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(config)
            .args(["-O", op, "h1"])
            .stdin(Stdio::null());
        output_with_timeout(&mut cmd, Duration::from_secs(20)).expect("ssh -O")
    };
    let master = check(&config, "check");
    assert_eq!(
        code(&master),
        0,
        "no master left running: {}",
        show(&master)
    );
    // A second run goes through the master.
    let out = ctl(&config, &openssh);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(Summary::parse(&out.stdout).successful, 15);
    let exit = check(&config, "exit");
    assert_eq!(code(&exit), 0, "{}", show(&exit));
}

/// PIDs of the `ssh` processes `ctl` (our child) runs.
fn ssh_children(ctl: u32) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-P", &ctl.to_string(), "-x", "ssh"])
        .output()
        .expect("pgrep");
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn transport_openssh_reattaches_when_its_ssh_is_killed_mid_run() {
    let hosts = boot("tr-cut", 1, UnitSet::user_plan(1.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(&hosts, dir.path(), "");
    let child = spawn_ctl(
        &config,
        &["--transport", "openssh", "--yes", "--json", "h1"],
    );
    wait_for_started_units(&hosts, 2);
    let ssh = ssh_children(child.id());
    assert_eq!(ssh.len(), 1, "expected one ssh under ctl: {ssh:?}");
    // The controller's own child, by PID.
    let killed = Command::new("kill").args(["-9", &ssh[0]]).status().unwrap();
    assert!(killed.success());
    let out = wait_bounded(child, CTL_TIMEOUT);
    let summary = assert_whole_after_reconnect(&out);
    for unit in PLAN_UNITS {
        assert!(
            summary.units.iter().any(|u| u.unit.starts_with(unit)),
            "{unit} missing"
        );
    }
}

#[test]
fn transport_openssh_status_and_cancel_reach_the_run() {
    let hosts = boot("tr-cancel", 1, UnitSet::user_plan(3.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_with(&hosts, dir.path(), "");
    let run = spawn_ctl(
        &config,
        &["--transport", "openssh", "--yes", "--json", "h1"],
    );
    wait_for_started_units(&hosts, 1);

    let out = ctl(&config, &["--transport", "openssh", "status", "h1"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stdout).contains("running"), "{}", show(&out));

    let out = ctl(
        &config,
        &["--transport", "openssh", "cancel", "h1", "--stop-units"],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    let out = wait_bounded(run, CTL_TIMEOUT);
    let summary = Summary::parse(&out.stdout);
    assert!(summary.cancelled, "{}", show(&out));
    assert!(summary.successful < 15, "everything ran: {summary:?}");

    let out = ctl(&config, &["--transport", "openssh", "cancel", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
}

#[test]
fn transport_openssh_reports_ssh_and_agent_failures_as_native_does() {
    let hosts = boot("tr-fail", 1, UnitSet::user_plan(0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    // A known_hosts file without the host's key: ssh refuses it (exit 255).
    let empty = dir.path().join("known_hosts");
    fs::write(&empty, "").unwrap();
    let original = fs::read_to_string(hosts.ssh_config()).unwrap();
    let config = dir.path().join("ssh_config");
    fs::write(
        &config,
        original.replace(
            &hosts.known_hosts().display().to_string(),
            &empty.display().to_string(),
        ),
    )
    .unwrap();
    let out = ctl(&config, &["--transport", "openssh", "--yes", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Host key verification failed"), "{stderr}");
    assert_eq!(started_units(&hosts, "h1"), Vec::<String>::new());

    let out = ctl(
        &config,
        &[
            "--transport",
            "openssh",
            "--accept-new-host-key",
            // The group's config says LogLevel ERROR; ssh's own message is what is checked.
            "-o",
            "LogLevel=INFO",
            "--yes",
            "--json",
            "h1",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    // ssh's words for the recorded key reach the user, as with native's one line.
    assert!(
        text(&out.stderr).contains("Permanently added"),
        "{}",
        show(&out)
    );
    assert!(
        fs::read_to_string(&empty)
            .unwrap()
            .contains(&hosts.ip("h1").to_string()),
        "the key was not recorded"
    );

    // The remote command's failure comes through ssh: diagnosed as with native.
    let out = ctl(
        &config,
        &[
            "--transport",
            "openssh",
            "--agent-path",
            "/opt/no such agent",
            "--yes",
            "h1",
        ],
    );
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the agent `/opt/no such agent` is not installed"),
        "{stderr}"
    );
}
