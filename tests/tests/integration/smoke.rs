//! Smoke tests of the test hosts themselves: if these fail, every real-host test would fail
//! for reasons that have nothing to do with backup-orchestrator.
//!
//! They check what the product relies on: OpenSSH with strict host-key checking against
//! the generated files, `sudo -n` for `deploy` (and its refusal for `needpw`), the agent
//! path under sudo's secure_path, the NAS tmpfs sizes, no way out of the test subnet, and
//! systemd's D-Bus API (StartUnit, unit state and result) with units from a `UnitSet`.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::Duration;

use backup_orchestrator_tests::{
    HostSpec, TRACE_FILE, TestHosts, TraceKind, UnitSet, output_with_timeout, parse_trace,
};

const OK_UNIT: &str = "bo-smoke-ok.service";
const OK_SECS: f64 = 2.0;
const FAIL_UNIT: &str = "bo-smoke-fail.service";
const FAIL_CODE: i32 = 3;
const H2_UNIT: &str = "bo-smoke-h2-only.service";

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER: &str = "/org/freedesktop/systemd1 org.freedesktop.systemd1.Manager";
const UNIT_IFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_IFACE: &str = "org.freedesktop.systemd1.Service";

#[test]
fn smoke_three_hosts_boot_with_strict_host_keys_sudo_and_dbus() {
    // A stand-in agent: proves the bind mount, its read-only-ness and sudo's secure_path.
    let agent_dir = tempfile::tempdir().expect("temp dir for the fake agent");
    let fake_agent = agent_dir.path().join("backup-orchestrator");
    fs::write(&fake_agent, "#!/bin/sh\necho fake-agent \"$@\"\n").expect("write fake agent");
    fs::set_permissions(&fake_agent, fs::Permissions::from_mode(0o755)).expect("chmod");

    let hosts = TestHosts::up(
        "smoke",
        HostSpec {
            count: 3,
            agent: Some(fake_agent),
            units: Some(
                UnitSet::new()
                    .unit(OK_UNIT, OK_SECS, 0)
                    .unit(FAIL_UNIT, 0.0, FAIL_CODE)
                    .for_host("h2", H2_UNIT, 0.0, 0),
            ),
            backup_size: None,
            pg_size: Some("1G".to_owned()),
            sudo: Default::default(),
        },
    );
    assert_eq!(hosts.hosts(), ["h1", "h2", "h3"]);

    // One distinct ed25519 host key per host IP, and nothing else to trust.
    let known_hosts = fs::read_to_string(hosts.known_hosts()).expect("read known_hosts");
    let mut keys = BTreeSet::new();
    for host in hosts.hosts() {
        let prefix = format!("{} ssh-ed25519 ", hosts.ip(&host));
        let line = known_hosts
            .lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no ed25519 key for {host} in:\n{known_hosts}"));
        keys.insert(line[prefix.len()..].to_owned());
    }
    assert_eq!(keys.len(), 3, "host keys are not distinct:\n{known_hosts}");
    assert_eq!(known_hosts.lines().count(), 3, "{known_hosts}");

    let machine_ids: BTreeSet<String> = thread::scope(|scope| {
        let checks: Vec<_> = hosts
            .hosts()
            .into_iter()
            .map(|host| {
                let hosts = &hosts;
                scope.spawn(move || check_host(hosts, &host))
            })
            .collect();
        checks
            .into_iter()
            .map(|check| {
                check
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    });
    assert_eq!(
        machine_ids.len(),
        3,
        "machine-ids are not distinct: {machine_ids:?}"
    );
}

/// Everything one host must provide; returns its machine-id.
fn check_host(hosts: &TestHosts, host: &str) -> String {
    assert_eq!(hosts.ssh_ok(host, "hostname").trim(), host);
    assert_eq!(hosts.ssh_ok(host, "id -un").trim(), "deploy");
    hosts.ssh_ok(host, "sudo -n true");

    // Strict host-key checking is in force: the same config with nothing trusted is refused.
    let mut untrusted = hosts.ssh_command();
    untrusted.args(["-o", "UserKnownHostsFile=/dev/null", host, "true"]);
    let out = output_with_timeout(&mut untrusted, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{host}: ssh trusted an unknown host key"
    );
    assert!(
        stderr.contains("Host key verification failed"),
        "{host}: unexpected ssh error: {stderr}"
    );

    // Nothing can leave the test subnet.
    assert_eq!(hosts.ssh_ok(host, "ip -4 route show default"), "");

    // The agent is reachable through sudo's secure_path and cannot be changed on the host.
    assert_eq!(
        hosts
            .ssh_ok(host, "sudo -n backup-orchestrator serve")
            .trim(),
        "fake-agent serve"
    );
    let out = hosts.ssh(host, "sudo -n touch /usr/local/bin/backup-orchestrator");
    assert!(
        !out.status.success(),
        "{host}: the agent binary is writable"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
        "{host}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // NAS tmpfs sizes: default backup size, and the pg size the spec asked for.
    let sizes = hosts.ssh_ok(
        host,
        "df -B1 --output=size /mnt/nas-backup /mnt/nas-postgresql | tail -n +2",
    );
    let sizes: Vec<&str> = sizes.split_whitespace().collect();
    assert_eq!(sizes, [(64u64 << 30).to_string(), (1u64 << 30).to_string()]);

    check_dbus_units(hosts, host);
    hosts.ssh_ok(host, "cat /etc/machine-id").trim().to_owned()
}

fn check_dbus_units(hosts: &TestHosts, host: &str) {
    // Succeeding unit: running while we look, then inactive with Result "success". Only a
    // success ends in "inactive": a failed unit stays "failed" until reset-failed (and the
    // failing unit below proves we would see that).
    let job = start_unit(hosts, host, OK_UNIT);
    assert!(
        job.starts_with("/org/freedesktop/systemd1/job/"),
        "{host}: StartUnit returned {job:?}"
    );
    let path = load_unit(hosts, host, OK_UNIT);
    assert_eq!(
        path,
        "/org/freedesktop/systemd1/unit/bo_2dsmoke_2dok_2eservice"
    );
    assert_eq!(
        property(hosts, host, &path, UNIT_IFACE, "ActiveState"),
        "activating"
    );
    assert_eq!(wait_until_settled(hosts, host, OK_UNIT), "inactive");
    assert_eq!(
        property(hosts, host, &path, SERVICE_IFACE, "Result"),
        "success"
    );

    // The unit really ran for its duration, by its own trace lines.
    let trace = parse_trace(&hosts.ssh_ok(host, &format!("cat {TRACE_FILE}")));
    let at = |kind| {
        trace
            .iter()
            .find(|e| e.unit == OK_UNIT && e.kind == kind)
            .unwrap_or_else(|| panic!("{host}: no {kind:?} of {OK_UNIT} in trace {trace:?}"))
            .at
    };
    let ran = at(TraceKind::Exit) - at(TraceKind::Start);
    assert!(ran >= OK_SECS - 0.05, "{host}: {OK_UNIT} ran only {ran} s");

    // Failing unit: stays loaded as failed, with systemd's result and the exit status.
    start_unit(hosts, host, FAIL_UNIT);
    assert_eq!(wait_until_settled(hosts, host, FAIL_UNIT), "failed");
    let path = load_unit(hosts, host, FAIL_UNIT);
    assert_eq!(
        property(hosts, host, &path, SERVICE_IFACE, "Result"),
        "exit-code"
    );
    assert_eq!(
        property(hosts, host, &path, SERVICE_IFACE, "ExecMainStatus"),
        FAIL_CODE.to_string()
    );

    // `--units DIR/h2/` reaches h2 only.
    let path = load_unit(hosts, host, H2_UNIT);
    let expected = if host == "h2" { "loaded" } else { "not-found" };
    assert_eq!(
        property(hosts, host, &path, UNIT_IFACE, "LoadState"),
        expected
    );
}

fn busctl(hosts: &TestHosts, host: &str, args: &str) -> String {
    busctl_value(&hosts.ssh_ok(host, &format!("sudo -n busctl {args}")))
}

/// `s "inactive"` → `inactive`; `i 3` → `3`; `o "/org/…"` → `/org/…`.
fn busctl_value(out: &str) -> String {
    let (_signature, value) = out
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("unexpected busctl output {out:?}"));
    value.trim_matches('"').to_owned()
}

fn start_unit(hosts: &TestHosts, host: &str, unit: &str) -> String {
    busctl(
        hosts,
        host,
        &format!("call {SYSTEMD} {MANAGER} StartUnit ss {unit} replace"),
    )
}

/// LoadUnit, not GetUnit: a finished oneshot that succeeded is unloaded at once.
fn load_unit(hosts: &TestHosts, host: &str, unit: &str) -> String {
    busctl(
        hosts,
        host,
        &format!("call {SYSTEMD} {MANAGER} LoadUnit s {unit}"),
    )
}

fn property(hosts: &TestHosts, host: &str, path: &str, iface: &str, name: &str) -> String {
    busctl(
        hosts,
        host,
        &format!("get-property {SYSTEMD} {path} {iface} {name}"),
    )
}

/// Polls ActiveState until the unit is no longer starting; bounded.
fn wait_until_settled(hosts: &TestHosts, host: &str, unit: &str) -> String {
    let mut state = String::new();
    for _attempt in 0..100 {
        let path = load_unit(hosts, host, unit);
        state = property(hosts, host, &path, UNIT_IFACE, "ActiveState");
        if state != "activating" {
            return state;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("{host}: {unit} still {state:?} after 100 polls");
}

#[test]
fn sudo_for_needpw_reports_password_required_when_non_interactive() {
    let hosts = TestHosts::up("smoke-needpw", HostSpec::new(1));

    // needpw logs in with the group key (so what fails below is sudo, not ssh)…
    let as_needpw = |cmd: &str| {
        let mut ssh = hosts.ssh_command();
        ssh.args(["-l", "needpw", "h1", cmd]);
        output_with_timeout(&mut ssh, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"))
    };
    let out = as_needpw("id -un");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "needpw");

    // …and sudo refuses without a password instead of prompting.
    let out = as_needpw("sudo -n true");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a password is required"), "{stderr}");

    // The same host gives deploy passwordless sudo: the difference is the sudoers rule.
    hosts.ssh_ok("h1", "sudo -n true");

    // Password authentication is off: a password-only attempt is refused up front.
    let mut password_only = hosts.ssh_command();
    password_only.args([
        "-o",
        "PreferredAuthentications=password",
        "-l",
        "needpw",
        "h1",
        "true",
    ]);
    let out = output_with_timeout(&mut password_only, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr.contains("Permission denied (publickey)"), "{stderr}");
}
