//! `backup-orchestrator-ctl install` and `doctor` against real hosts: a bare host (no agent, the
//! `deploy` user with broad passwordless sudo), and `needpw`, whose sudo wants a password.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backup_orchestrator_tests::{
    HostSpec, TestHosts, UnitSet, agent_binary, controller_binary, output_with_timeout,
};

use crate::support::{code, show, text};

const AGENT_PATH: &str = "/usr/local/bin/backup-orchestrator";
const NEEDPW_PASSWORD: &str = "needpw-test-password";
const CTL_TIMEOUT: Duration = Duration::from_secs(180);

fn bare_host(group: &str, unit_secs: f64) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            units: Some(UnitSet::user_plan(unit_secs)),
            ..HostSpec::new(1)
        },
    )
}

fn ctl(hosts: &TestHosts) -> Command {
    let mut cmd = Command::new(controller_binary());
    cmd.arg("--ssh-config").arg(hosts.ssh_config());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    output_with_timeout(cmd.stdin(Stdio::null()), CTL_TIMEOUT).expect("ctl in time")
}

fn install(hosts: &TestHosts, agent: &Path) -> Output {
    run(ctl(hosts)
        .args(["install", "h1", "--agent-binary"])
        .arg(agent))
}

fn sudoers_line(user: &str) -> String {
    format!("{user} ALL=(root) NOPASSWD: {AGENT_PATH} serve")
}

/// The agent with bytes appended: another SHA-256, still a valid ELF that runs.
fn other_agent(dir: &Path) -> PathBuf {
    let path = dir.join("backup-orchestrator");
    let mut bytes = std::fs::read(agent_binary()).expect("read the agent");
    bytes.extend_from_slice(b"\0another build\0");
    std::fs::write(&path, bytes).expect("write the other agent");
    let status = Command::new("chmod").arg("0755").arg(&path).status();
    assert!(status.expect("chmod").success());
    path
}

#[test]
fn install_puts_the_agent_and_its_exact_rule_on_a_bare_host_and_again_changes_nothing() {
    let hosts = bare_host("in-bare", 0.0);
    assert_ne!(
        code(&hosts.ssh("h1", "command -v backup-orchestrator")),
        0,
        "the bare host already has an agent"
    );

    let started = Instant::now();
    let out = install(&hosts, &agent_binary());
    eprintln!("install onto a bare host took {:?}", started.elapsed());
    assert_eq!(code(&out), 0, "{}", show(&out));
    let version = format!("backup-orchestrator {}", env!("CARGO_PKG_VERSION"));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "h1: installed {version} at {AGENT_PATH} and its sudo rule"
        )),
        "{}",
        show(&out)
    );
    assert!(
        hosts
            .ssh_ok("h1", &format!("{AGENT_PATH} --version"))
            .contains(&version)
    );
    let rule = hosts.ssh_ok(
        "h1",
        "sudo -n cat /etc/sudoers.d/backup-orchestrator && sudo -n stat -c '%U %a' /etc/sudoers.d/backup-orchestrator",
    );
    assert_eq!(rule, format!("{}\nroot 440\n", sudoers_line("deploy")));
    hosts.ssh_ok("h1", "sudo -n visudo -c -q");
    assert_eq!(
        hosts.ssh_ok(
            "h1",
            "ls -a /usr/local/bin /etc/sudoers.d | grep -c '^\\.backup-orchestrator' || true"
        ),
        "0\n",
        "temporary files left behind"
    );
    let mtime = hosts.ssh_ok("h1", &format!("stat -c %Y.%Z {AGENT_PATH}"));

    // From here on, the installed rule is all deploy has.
    hosts.ssh_ok("h1", "sudo -n rm /etc/sudoers.d/bo-deploy");
    assert_ne!(
        code(&hosts.ssh("h1", "sudo -n true")),
        0,
        "broad sudo still works"
    );
    let out = run(ctl(&hosts).args(["--yes", "h1"]));
    assert_eq!(
        code(&out),
        0,
        "a run through the rule alone: {}",
        show(&out)
    );

    let out = install(&hosts, &agent_binary());
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        text(&out.stdout).starts_with("h1: already installed: "),
        "{}",
        show(&out)
    );
    assert!(
        text(&out.stdout).contains("nothing changed"),
        "{}",
        show(&out)
    );
    let out = run(ctl(&hosts)
        .args(["--json", "install", "h1", "--agent-binary"])
        .arg(agent_binary()));
    assert_eq!(code(&out), 0, "{}", show(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("install JSON");
    assert_eq!(json[0]["host"], "h1");
    assert_eq!(json[0]["result"], "already_installed");
    eprintln!(
        "install on an installed host took {} ms",
        json[0]["duration_ms"]
    );
    assert_eq!(json[0]["agent_changed"], false);
    assert_eq!(json[0]["sha256"], sha256(&agent_binary()).as_str());
    assert_eq!(
        hosts.ssh_ok("h1", &format!("stat -c %Y.%Z {AGENT_PATH}")),
        mtime
    );

    // The host is as a run needs it: the doctor finds nothing wrong.
    let out = run(ctl(&hosts).args(["doctor", "h1"]));
    assert_eq!(code(&out), 0, "{}", show(&out));
    let checklist = text(&out.stdout);
    for line in [
        "✔ resolves",
        "✔ reachable",
        "✔ host key known",
        "✔ auth",
        "✔ sudo rule: (root) NOPASSWD: /usr/local/bin/backup-orchestrator serve",
        "✔ agent",
        "✔ plan parses",
        "✔ preflight /mnt/nas-backup: a mount point (the plan's)",
        "✔ preflight /mnt/nas-postgresql",
        "✔ D-Bus",
        "✔ state directory",
        "h1: all checks passed",
    ] {
        assert!(checklist.contains(line), "{line:?} missing:\n{checklist}");
    }
    let out = run(ctl(&hosts).args(["doctor", "--json", "h1"]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    assert_eq!(json[0]["host"], "h1");
    assert_eq!(json[0]["ok"], true);
    assert!(
        json[0]["checks"].as_array().is_some_and(|c| c.len() >= 11),
        "{json}"
    );
}

#[test]
fn install_of_another_build_while_a_run_goes_on_lets_the_run_finish() {
    let hosts = bare_host("in-upgrade", 3.0);
    let out = install(&hosts, &agent_binary());
    assert_eq!(code(&out), 0, "{}", show(&out));

    let mut running = ctl(&hosts)
        .args(["--yes", "h1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a run");
    // Wait until the run is under way on the host.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text(&run(ctl(&hosts).args(["status", "h1"])).stdout).contains(" is running") {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(200));
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let upgrade = other_agent(dir.path());
    let out = install(&hosts, &upgrade);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        text(&out.stdout).contains("(its sudo rule was already in place)"),
        "{}",
        show(&out)
    );
    assert!(
        hosts
            .ssh_ok("h1", &format!("sha256sum {AGENT_PATH}"))
            .starts_with(&sha256(&upgrade)),
        "the new build is not in place"
    );
    assert!(
        text(&run(ctl(&hosts).args(["status", "h1"])).stdout).contains(" is running"),
        "the run ended before the upgrade: the test proves nothing"
    );

    let deadline = Instant::now() + CTL_TIMEOUT;
    let status = loop {
        if let Some(status) = running.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    if let Some(mut err) = running.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(0),
        "the run across the upgrade: {stderr}"
    );
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn install_for_a_user_whose_sudo_wants_a_password_asks_on_a_terminal_only() {
    let hosts = bare_host("in-needpw", 0.0);
    // sudoers applies the last matching rule, and reads /etc/sudoers.d in name order: needpw's
    // broad password rule goes before the drop-in, where a stock Debian host has its
    // `%sudo ALL=(ALL:ALL) ALL` (in /etc/sudoers, above @includedir).
    hosts.ssh_ok(
        "h1",
        "sudo -n mv /etc/sudoers.d/bo-needpw /etc/sudoers.d/00-needpw",
    );

    let out = run(ctl(&hosts)
        .args(["-l", "needpw", "install", "h1", "--agent-binary"])
        .arg(agent_binary()));
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no terminal"), "{stderr}");
    assert!(stderr.contains(&sudoers_line("needpw")), "{stderr}");

    // On a terminal (util-linux `script`), the password is typed once the prompt shows.
    let command = format!(
        "'{}' --ssh-config '{}' -l needpw install h1 --agent-binary '{}'",
        controller_binary().display(),
        hosts.ssh_config().display(),
        agent_binary().display()
    );
    let mut script = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        let mut stdout = script.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buffer[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text(&seen.lock().expect("lock")).contains("[sudo] password for needpw on h1: ") {
        assert!(
            Instant::now() < deadline,
            "no password prompt: {}",
            text(&seen.lock().expect("lock"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdin = script.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{NEEDPW_PASSWORD}\n").as_bytes())
        .expect("type the password");
    let deadline = Instant::now() + CTL_TIMEOUT;
    let status = loop {
        if let Some(status) = script.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "install on a terminal did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    reader.join().expect("reader");
    let shown = text(&seen.lock().expect("lock"));
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("h1: installed backup-orchestrator"),
        "{shown}"
    );
    assert!(
        !shown.contains(NEEDPW_PASSWORD),
        "the password was echoed: {shown}"
    );
    let rule = hosts.ssh_ok("h1", "sudo -n cat /etc/sudoers.d/backup-orchestrator");
    assert_eq!(rule, format!("{}\n", sudoers_line("needpw")));
}

#[test]
fn doctor_names_each_broken_thing_on_a_bad_host() {
    let hosts = bare_host("dr-bad", 0.0);
    hosts.ssh_ok(
        "h1",
        "echo 'deploy ALL=(ALL) NOPASSWD: /usr/local/bin/backup-orchestrator' | sudo -n tee /etc/sudoers.d/wrong >/dev/null \
         && sudo -n chmod 0440 /etc/sudoers.d/wrong && sudo -n umount /mnt/nas-backup",
    );

    let out = run(ctl(&hosts).args(["doctor", "h1"]));
    assert_eq!(code(&out), 3, "{}", show(&out));
    let checklist = text(&out.stdout);
    for line in [
        "✔ auth: logged in as deploy",
        "✘ sudo rule: the rule for the agent is not exact: `(ALL) NOPASSWD: /usr/local/bin/backup-orchestrator`",
        "fix: backup-orchestrator-ctl install h1",
        "✘ agent: h1: the agent `backup-orchestrator` is not installed",
        "– plan parses: not checked: needs the agent",
        "✘ preflight /mnt/nas-backup: exists but is not a mount point (the default plan's path",
        "✔ preflight /mnt/nas-postgresql: a mount point",
        "✔ D-Bus",
        "h1: 3 problems",
    ] {
        assert!(checklist.contains(line), "{line:?} missing:\n{checklist}");
    }
    assert!(
        checklist.contains("✘ agent") && checklist.matches('✘').count() == 3,
        "{checklist}"
    );
}
