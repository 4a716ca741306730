//! The native SSH transport held against OpenSSH (`ssh`, 9.2) on the same real host and the same
//! files: host-key rules (an ECDSA-only sshd while the host's Ed25519 key is known, a plain host
//! name line for a non-22 port, HashKnownHosts), what the config may not say (a `Match` block),
//! and identity files others can read. Each case runs both and compares their verdicts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use backup_orchestrator_tests::{
    HostSpec, TestHosts, UnitSet, agent_binary, controller_binary, output_with_timeout,
};

use crate::support::{code, show, text};

const TIMEOUT: Duration = Duration::from_secs(60);
/// A second sshd on the test host, offering only an ECDSA host key.
const ECDSA_PORT: &str = "2222";
/// A third, offering both the host's Ed25519 key and that ECDSA key.
const BOTH_PORT: &str = "2223";
/// `StrictHostKeyChecking no` and a key of another type known: ssh warns and connects; the
/// controller refuses, as for any changed key (its verdict gates a deploy).
const STRICTER: &str = "ECDSA-only host, its Ed25519 key known, StrictHostKeyChecking no";

fn boot(group: &str) -> TestHosts {
    TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(UnitSet::user_plan(0.0)),
            ..HostSpec::new(1)
        },
    )
}

/// The group's ssh_config with its own known_hosts file, plus `extra` appended.
fn config(hosts: &TestHosts, dir: &Path, known_hosts: &str, extra: &str) -> PathBuf {
    let known = dir.join("known_hosts");
    fs::write(&known, known_hosts).expect("write known_hosts");
    let original = fs::read_to_string(hosts.ssh_config()).expect("read ssh_config");
    let rewritten = original.replace(
        &hosts.known_hosts().display().to_string(),
        &known.display().to_string(),
    );
    let path = dir.join("ssh_config");
    fs::write(&path, format!("{rewritten}{extra}")).expect("write ssh_config");
    path
}

fn ctl(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(controller_binary());
    cmd.arg("-F").arg(config).args(args).stdin(Stdio::null());
    output_with_timeout(&mut cmd, TIMEOUT).unwrap_or_else(|t| panic!("ctl {args:?}: {t}"))
}

fn ssh(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("ssh");
    cmd.arg("-F")
        .arg(config)
        .args(["-n", "-o", "BatchMode=yes"])
        .args(args)
        .stdin(Stdio::null());
    output_with_timeout(&mut cmd, TIMEOUT).unwrap_or_else(|t| panic!("ssh {args:?}: {t}"))
}

/// `type base64` of a `*.pub` or known_hosts line's key.
fn key_of(line: &str, skip: usize) -> String {
    let fields: Vec<&str> = line.split_whitespace().skip(skip).take(2).collect();
    fields.join(" ")
}

/// Starts the sshds on ECDSA_PORT and BOTH_PORT; returns the ECDSA key.
fn start_ecdsa_sshds(hosts: &TestHosts) -> String {
    hosts.ssh_ok(
        "h1",
        &format!(
            "sudo -n ssh-keygen -q -t ecdsa -N '' -f /etc/ssh/ssh_host_ecdsa_key && \
             grep -v -e '^HostKey' -e '^Include' /etc/ssh/sshd_config | sudo -n tee /etc/ssh/sshd_ecdsa >/dev/null && \
             sudo -n /usr/sbin/sshd -f /etc/ssh/sshd_ecdsa -p {ECDSA_PORT} \
               -o HostKey=/etc/ssh/ssh_host_ecdsa_key && \
             sudo -n /usr/sbin/sshd -f /etc/ssh/sshd_ecdsa -p {BOTH_PORT} \
               -o HostKey=/etc/ssh/ssh_host_ed25519_key -o HostKey=/etc/ssh/ssh_host_ecdsa_key"
        ),
    );
    key_of(
        &hosts.ssh_ok("h1", "cat /etc/ssh/ssh_host_ecdsa_key.pub"),
        0,
    )
}

/// An Ed25519 key the host does not have.
fn other_ed25519(dir: &Path) -> String {
    let path = dir.join("other_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    key_of(
        &fs::read_to_string(path.with_extension("pub")).expect("pub"),
        0,
    )
}

#[test]
fn ssh_rules_host_keys_agree_with_openssh() {
    let hosts = boot("ssh-keys");
    let ip = hosts.ip("h1").to_string();
    let known = fs::read_to_string(hosts.known_hosts()).expect("known_hosts");
    let ed25519 = key_of(known.lines().next().expect("a line"), 1);
    let ecdsa = start_ecdsa_sshds(&hosts);
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong_ed25519 = other_ed25519(dir.path());
    let only = format!("[{ip}]:{ECDSA_PORT}");
    let both = format!("[{ip}]:{BOTH_PORT}");

    // (name, port, known_hosts, extra flags for both). Each must get ssh's verdict, except
    // where the controller is stricter on purpose (named in STRICTER).
    let cases = [
        (
            "ECDSA-only host, its Ed25519 key known, accept-new",
            ECDSA_PORT,
            format!("{only} {ed25519}\n"),
            vec!["-o", "StrictHostKeyChecking=accept-new"],
        ),
        (
            STRICTER,
            ECDSA_PORT,
            format!("{only} {ed25519}\n"),
            vec!["-o", "StrictHostKeyChecking=no"],
        ),
        (
            "ECDSA known under the plain host name, port 2222",
            ECDSA_PORT,
            format!("{ip} {ecdsa}\n"),
            vec![],
        ),
        (
            "ECDSA known under [host]:port",
            ECDSA_PORT,
            format!("{only} {ecdsa}\n"),
            vec![],
        ),
        (
            "both offered: right ECDSA line, then a wrong Ed25519 line",
            BOTH_PORT,
            format!("{both} {ecdsa}\n{both} {wrong_ed25519}\n"),
            vec![],
        ),
        (
            "both offered: wrong Ed25519 line, then the right ECDSA line",
            BOTH_PORT,
            format!("{both} {wrong_ed25519}\n{both} {ecdsa}\n"),
            vec![],
        ),
        (
            "both offered: right Ed25519 line after an ECDSA line of another host",
            BOTH_PORT,
            format!("[10.231.255.254]:{BOTH_PORT} {ecdsa}\n{both} {ed25519}\n"),
            vec![],
        ),
        (
            "both offered: only the ECDSA key known",
            BOTH_PORT,
            format!("{both} {ecdsa}\n"),
            vec![],
        ),
    ];
    let mut verdicts = Vec::new();
    let mut disagreements = Vec::new();
    for (name, port, known_hosts, flags) in &cases {
        let config = config(&hosts, dir.path(), known_hosts, "");
        let mut ssh_args = flags.clone();
        ssh_args.extend(["-p", port, "h1", "true"]);
        let theirs = ssh(&config, &ssh_args);
        let mut ctl_args = flags.clone();
        ctl_args.extend(["-p", port, "status", "h1"]);
        let ours = ctl(&config, &ctl_args);
        let verdict = |out: &Output| {
            if out.status.success() {
                "connects"
            } else {
                "refuses"
            }
        };
        verdicts.push(format!(
            "{name}: ssh {}, ours {}",
            verdict(&theirs),
            verdict(&ours)
        ));
        let agree = theirs.status.success() == ours.status.success();
        if *name == STRICTER {
            assert!(
                theirs.status.success() && !ours.status.success(),
                "{name}: {}",
                show(&ours)
            );
        } else if !agree {
            disagreements.push(format!(
                "{name}\n--- ssh ---\n{}\n--- ours ---\n{}",
                show(&theirs),
                show(&ours)
            ));
        }
        if !ours.status.success() {
            assert_eq!(code(&ours), 3, "{name}: {}", show(&ours));
        }
    }
    eprintln!("{}", verdicts.join("\n"));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn ssh_rules_hash_known_hosts_records_a_hashed_line_both_sides_accept() {
    let hosts = boot("ssh-hash");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&hosts, dir.path(), "", "");
    let known = dir.path().join("known_hosts");
    // Created by the controller, 0600.
    fs::remove_file(&known).expect("remove");
    let out = ctl(
        &config,
        &[
            "-o",
            "HashKnownHosts=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "status",
            "h1",
        ],
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(text(&out.stderr).contains("SHA256:"), "{}", show(&out));
    let recorded = fs::read_to_string(&known).expect("recorded");
    assert!(recorded.starts_with("|1|"), "{recorded}");
    assert!(
        !recorded.contains(&hosts.ip("h1").to_string()),
        "{recorded}"
    );
    assert_eq!(
        fs::metadata(&known).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    // The hashed line is known to OpenSSH (strict, from the group config) and to us.
    let theirs = ssh(&config, &["h1", "true"]);
    assert!(theirs.status.success(), "{}", show(&theirs));
    let again = ctl(&config, &["status", "h1"]);
    assert_eq!(code(&again), 0, "{}", show(&again));
}

#[test]
fn ssh_rules_refuse_a_match_block_and_an_unprotected_key_before_connecting() {
    let hosts = boot("ssh-refuse");
    let dir = tempfile::tempdir().expect("temp dir");
    let known = fs::read_to_string(hosts.known_hosts()).expect("known_hosts");
    let config = config(
        &hosts,
        dir.path(),
        &known,
        "\nMatch host *\n    StrictHostKeyChecking no\n",
    );
    let lines = fs::read_to_string(&config).expect("config").lines().count();
    let out = ctl(&config, &["--yes", "h1"]);
    assert_eq!(code(&out), 3, "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:{}: Match host *", config.display(), lines - 1)),
        "{stderr}"
    );
    assert!(stderr.contains("--transport openssh"), "{stderr}");
    assert!(crate::support::started_units(&hosts, "h1").is_empty());

    // A group-readable key: ssh skips it, and so do we, naming it.
    let key = dir.path().join("id_group_readable");
    fs::copy(hosts.identity(), &key).expect("copy key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).expect("chmod");
    let config = self::config(&hosts, dir.path(), &known, "");
    let args = ["-o", &format!("IdentityFile={}", key.display())];
    let text_config = fs::read_to_string(&config).expect("config");
    // Only the unprotected key: drop the group's own IdentityFile line.
    let only = text_config
        .lines()
        .filter(|l| !l.trim_start().starts_with("IdentityFile"))
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(&config, only).expect("write");
    let theirs = ssh(&config, &[args[0], args[1], "h1", "true"]);
    assert!(!theirs.status.success(), "{}", show(&theirs));
    assert!(text(&theirs.stderr).contains("UNPROTECTED PRIVATE KEY FILE"));
    let ours = ctl(&config, &[args[0], args[1], "status", "h1"]);
    assert_eq!(code(&ours), 3, "{}", show(&ours));
    let stderr = text(&ours.stderr);
    assert!(
        stderr.contains("UNPROTECTED PRIVATE KEY FILE")
            && stderr.contains(&key.display().to_string()),
        "{stderr}"
    );
}

/// An ssh-agent of this test's own, holding the group's key; killed (by its pid) on drop.
struct TestAgent {
    pid: String,
    socket: PathBuf,
}

impl TestAgent {
    fn start(dir: &Path, key: &Path) -> TestAgent {
        let socket = dir.join("agent.sock");
        let out = Command::new("ssh-agent")
            .arg("-a")
            .arg(&socket)
            .arg("-s")
            .output()
            .expect("ssh-agent");
        let stdout = text(&out.stdout);
        let pid = stdout
            .split(';')
            .find_map(|part| part.trim().strip_prefix("SSH_AGENT_PID="))
            .expect("agent pid")
            .to_owned();
        let agent = TestAgent { pid, socket };
        let add = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .expect("ssh-add");
        assert!(add.status.success(), "{}", show(&add));
        agent
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

#[test]
fn ssh_rules_identity_agent_names_the_agent_to_use_and_none_turns_it_off() {
    let hosts = boot("ssh-agent");
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = TestAgent::start(dir.path(), &hosts.identity());
    let known = fs::read_to_string(hosts.known_hosts()).expect("known_hosts");
    let base = config(&hosts, dir.path(), &known, "");
    // No identity file: the key is only in the agent.
    let without_files: String = fs::read_to_string(&base)
        .expect("config")
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("IdentityFile") && !l.starts_with("IdentitiesOnly")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for (identity_agent, connects) in [
        (agent.socket.display().to_string(), true),
        ("none".to_owned(), false),
    ] {
        let config = dir.path().join("agent_config");
        fs::write(
            &config,
            format!("Host *\n    IdentityAgent {identity_agent}\n    IdentityFile /nonexistent\n{without_files}"),
        )
        .expect("write");
        let mut theirs = Command::new("ssh");
        theirs
            .arg("-F")
            .arg(&config)
            .args(["-n", "-o", "BatchMode=yes", "h1", "true"])
            .env_remove("SSH_AUTH_SOCK");
        let theirs = output_with_timeout(&mut theirs, TIMEOUT).expect("ssh");
        let mut ours = Command::new(controller_binary());
        ours.arg("-F")
            .arg(&config)
            .args(["status", "h1"])
            .stdin(Stdio::null())
            .env_remove("SSH_AUTH_SOCK");
        let ours = output_with_timeout(&mut ours, TIMEOUT).expect("ctl");
        assert_eq!(
            theirs.status.success(),
            connects,
            "ssh, IdentityAgent {identity_agent}: {}",
            show(&theirs)
        );
        assert_eq!(
            ours.status.success(),
            connects,
            "ours, IdentityAgent {identity_agent}: {}",
            show(&ours)
        );
    }
}

#[test]
fn ssh_rules_algorithm_lists_and_a_crypto_policy_match_final_agree_with_openssh() {
    let hosts = boot("ssh-algos");
    let dir = tempfile::tempdir().expect("temp dir");
    let known = fs::read_to_string(hosts.known_hosts()).expect("known_hosts");
    // (name, extra config appended after the group's Host block, whether both connect)
    let cases = [
        (
            "Ciphers aes256-gcm",
            "Host *\n    Ciphers aes256-gcm@openssh.com\n",
            true,
        ),
        (
            "Ciphers only CBC, which sshd does not offer",
            "Host *\n    Ciphers aes128-cbc\n",
            false,
        ),
        (
            "HostKeyAlgorithms ECDSA only, host has Ed25519",
            "Host *\n    HostKeyAlgorithms ecdsa-sha2-nistp256\n",
            false,
        ),
        (
            "KexAlgorithms group1, not offered",
            "Host *\n    KexAlgorithms diffie-hellman-group1-sha1\n",
            false,
        ),
        (
            "PubkeyAcceptedAlgorithms without the key's type",
            "Host *\n    PubkeyAcceptedAlgorithms ecdsa-sha2-nistp256\n",
            false,
        ),
        (
            "crypto policy under Match final all",
            "Match final all\n    Ciphers aes128-ctr,aes256-gcm@openssh.com\n    MACs hmac-sha2-512-etm@openssh.com\n    KexAlgorithms curve25519-sha256\n    PubkeyAcceptedAlgorithms ssh-ed25519\n    GSSAPIAuthentication yes\n",
            true,
        ),
        (
            "crypto policy under Match final all that excludes the host's key type",
            "Match final all\n    HostKeyAlgorithms -ssh-ed25519\n",
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (name, extra, connects) in cases {
        let config = config(&hosts, dir.path(), &known, &format!("\n{extra}"));
        let theirs = ssh(&config, &["h1", "true"]);
        let ours = ctl(&config, &["status", "h1"]);
        if theirs.status.success() != connects || ours.status.success() != connects {
            failures.push(format!(
                "{name}: expected connects={connects}\n--- ssh ---\n{}\n--- ours ---\n{}",
                show(&theirs),
                show(&ours)
            ));
        }
        if !ours.status.success() {
            assert_eq!(code(&ours), 3, "{name}: {}", show(&ours));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
