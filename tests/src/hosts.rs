//! [`TestHosts`]: one group of real hosts, booted by `testhosts up` and torn down on drop.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::process::output_with_timeout;
use crate::units::UnitSet;

/// `up` may first build the base rootfs (~40 s) and then waits up to 60 s for boot.
const UP_TIMEOUT: Duration = Duration::from_secs(240);
/// `down` waits up to 15 s for a clean poweroff, then kills.
const DOWN_TIMEOUT: Duration = Duration::from_secs(90);
/// One ssh command; tests needing longer use [`TestHosts::ssh_command`] and
/// [`crate::output_with_timeout`] themselves.
const SSH_TIMEOUT: Duration = Duration::from_secs(60);
const DIAGNOSTIC_TIMEOUT: Duration = Duration::from_secs(20);
const CONSOLE_TAIL_LINES: usize = 40;
const JOURNAL_TAIL_LINES: usize = 80;

/// What to boot: `count` hosts h1..hN, optionally with the agent and units installed.
#[derive(Debug, Clone, Default)]
pub struct HostSpec {
    pub count: usize,
    /// Bind-mounted read-only at /usr/local/bin/backup-orchestrator on every host.
    pub agent: Option<PathBuf>,
    pub units: Option<UnitSet>,
    /// tmpfs size limit at /mnt/nas-backup (default 64G: a limit, not memory used).
    pub backup_size: Option<String>,
    /// tmpfs size limit at /mnt/nas-postgresql (default 32G).
    pub pg_size: Option<String>,
    /// What `deploy` may run with sudo.
    pub sudo: Sudo,
}

/// `deploy`'s sudo rule on the hosts (`testhosts up --sudo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sudo {
    /// Passwordless sudo for everything: install tests, the agent's own CLI.
    #[default]
    All,
    /// Exactly the README's rule: `NOPASSWD: /usr/local/bin/backup-orchestrator serve`. Setup
    /// that needs root goes through [`TestHosts::root`].
    ServeOnly,
}

impl HostSpec {
    /// `count` bare hosts; set the other fields as needed.
    pub fn new(count: usize) -> Self {
        Self {
            count,
            ..Self::default()
        }
    }
}

/// A running group of test hosts. Dropping it runs `testhosts down GROUP`; when dropped
/// during a panic it first prints each host's console and journal tails to stderr.
#[derive(Debug)]
pub struct TestHosts {
    group: String,
    dir: PathBuf,
    hosts: Vec<(String, Ipv4Addr)>,
}

/// The harness script, `tests/hosts/testhosts`.
pub fn testhosts_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hosts/testhosts")
}

fn testhosts() -> Command {
    // Through bash: works even where the checkout lost the executable bit.
    let mut cmd = Command::new("bash");
    cmd.arg(testhosts_script());
    cmd
}

impl TestHosts {
    /// Boots `spec.count` hosts as group `group` ([a-z0-9-], at most 12 chars, unique per
    /// test: tests run in parallel, each in its own process). Leftovers of an earlier run
    /// of the same group are cleaned first.
    ///
    /// # Panics
    /// With the harness's stderr when the hosts do not come up.
    pub fn up(group: &str, spec: HostSpec) -> TestHosts {
        assert!(spec.count >= 1, "HostSpec::count must be at least 1");
        let mut cmd = testhosts();
        cmd.args(["up", group, &spec.count.to_string()]);
        if let Some(agent) = &spec.agent {
            cmd.arg("--agent").arg(agent);
        }
        // Kept until `up` has copied the units into the hosts.
        let units_dir = spec.units.as_ref().map(|units| {
            let dir = tempfile::Builder::new()
                .prefix("bo-units-")
                .tempdir()
                .expect("failed to create a temp dir for units");
            units
                .write_to(dir.path())
                .expect("failed to write unit files");
            dir
        });
        if let Some(dir) = &units_dir {
            cmd.arg("--units").arg(dir.path());
        }
        if let Some(size) = &spec.backup_size {
            cmd.args(["--backup-size", size]);
        }
        if let Some(size) = &spec.pg_size {
            cmd.args(["--pg-size", size]);
        }
        if spec.sudo == Sudo::ServeOnly {
            cmd.args(["--sudo", "serve"]);
        }

        let out = output_with_timeout(&mut cmd, UP_TIMEOUT)
            .unwrap_or_else(|timed_out| panic!("testhosts up {group}: {timed_out}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Shown by nextest only for failing tests; worth having there (timings, rebuilds).
        eprint!("{stderr}");
        assert!(
            out.status.success(),
            "testhosts up {group} {} failed ({}):\n{stderr}",
            spec.count,
            out.status
        );
        drop(units_dir);

        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = PathBuf::from(
            stdout
                .lines()
                .last()
                .unwrap_or_else(|| panic!("testhosts up {group} printed no state dir")),
        );
        let hosts = parse_hosts(&dir);
        assert_eq!(
            hosts.len(),
            spec.count,
            "{}/hosts lists the wrong number of hosts",
            dir.display()
        );
        TestHosts {
            group: group.to_owned(),
            dir,
            hosts,
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// The group's state dir, `/run/bo-testhosts/GROUP`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `Host h1` … blocks: HostName, User deploy, IdentityFile, strict known_hosts.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The client key authorized for `deploy` and `needpw` on every host.
    pub fn identity(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// # Panics
    /// If `host` is not in this group.
    pub fn ip(&self, host: &str) -> Ipv4Addr {
        self.hosts
            .iter()
            .find(|(name, _)| name == host)
            .map(|(_, ip)| *ip)
            .unwrap_or_else(|| panic!("no host {host} in group {}", self.group))
    }

    /// `h1`, `h2`, … in order.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.iter().map(|(name, _)| name.clone()).collect()
    }

    /// `ssh -n -F ssh_config -o BatchMode=yes`, ready for more options, the host and the
    /// command.
    pub fn ssh_command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-n")
            .arg("-F")
            .arg(self.ssh_config())
            .args(["-o", "BatchMode=yes"]);
        cmd
    }

    /// Runs `cmd` on `host` as `deploy` through the OpenSSH client (the remote shell parses
    /// `cmd`).
    ///
    /// # Panics
    /// If ssh does not finish within 60 s.
    pub fn ssh(&self, host: &str, cmd: &str) -> Output {
        let mut ssh = self.ssh_command();
        ssh.args([host, cmd]);
        output_with_timeout(&mut ssh, SSH_TIMEOUT)
            .unwrap_or_else(|timed_out| panic!("ssh {host} {cmd:?}: {timed_out}"))
    }

    /// Like [`Self::ssh`], asserting success; returns stdout.
    pub fn ssh_ok(&self, host: &str, cmd: &str) -> String {
        let out = self.ssh(host, cmd);
        assert!(
            out.status.success(),
            "ssh {host} {cmd:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `script` with bash as root inside `host`, through the harness (`testhosts exec
    /// --root`, entered via the host's PID 1), not through `deploy`'s sudo: setup and inspection
    /// that must work whatever the sudo rule.
    ///
    /// # Panics
    /// If it does not finish within 60 s.
    pub fn root(&self, host: &str, script: &str) -> Output {
        let mut cmd = testhosts();
        cmd.args([
            "exec",
            &self.group,
            host,
            "--root",
            "--",
            "bash",
            "-c",
            script,
        ]);
        output_with_timeout(&mut cmd, SSH_TIMEOUT)
            .unwrap_or_else(|timed_out| panic!("root on {host} {script:?}: {timed_out}"))
    }

    /// Like [`Self::root`], asserting success; returns stdout.
    pub fn root_ok(&self, host: &str, script: &str) -> String {
        let out = self.root(host, script);
        assert!(
            out.status.success(),
            "root on {host} {script:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Console and journal tails of every host, for a failing test's output.
    fn print_diagnostics(&self) {
        for host in self.hosts() {
            let console = self.dir.join("console").join(format!("{host}.log"));
            let text = fs::read_to_string(&console).unwrap_or_else(|e| format!("({e})\n"));
            eprintln!(
                "===== {} {host}: console ({}), last {CONSOLE_TAIL_LINES} lines =====\n{}",
                self.group,
                console.display(),
                tail(&text, CONSOLE_TAIL_LINES)
            );
            let mut journal = testhosts();
            journal.args(["journal", &self.group, &host]);
            let text = match output_with_timeout(&mut journal, DIAGNOSTIC_TIMEOUT) {
                Ok(out) => format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(timed_out) => timed_out.to_string(),
            };
            // Every ssh call of the test logs ~10 routine lines; without them the tail shows
            // what systemd and the units did.
            let text: Vec<&str> = text
                .lines()
                .filter(|l| !is_routine_session_line(l))
                .collect();
            eprintln!(
                "===== {} {host}: journal without routine ssh/sudo session lines, last {JOURNAL_TAIL_LINES} =====\n{}",
                self.group,
                tail(&text.join("\n"), JOURNAL_TAIL_LINES)
            );
        }
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        if panicking {
            self.print_diagnostics();
        }
        let mut down = testhosts();
        down.args(["down", &self.group]);
        let problem = match output_with_timeout(&mut down, DOWN_TIMEOUT) {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(format!(
                "failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(timed_out) => Some(timed_out.to_string()),
        };
        if let Some(problem) = problem {
            // A second panic while unwinding would abort and hide the first failure.
            if panicking {
                eprintln!("testhosts down {}: {problem}", self.group);
            } else {
                panic!("testhosts down {}: {problem}", self.group);
            }
        }
    }
}

/// `hosts` lines: `h1 10.231.7.11`.
fn parse_hosts(dir: &Path) -> Vec<(String, Ipv4Addr)> {
    let path = dir.join("hosts");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let (name, ip) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("malformed line {line:?} in {}", path.display()));
            let ip = ip
                .parse()
                .unwrap_or_else(|e| panic!("bad IP in {line:?} in {}: {e}", path.display()));
            (name.to_owned(), ip)
        })
        .collect()
}

/// sshd/sudo lines every successful ssh + sudo call leaves; failures are kept.
fn is_routine_session_line(line: &str) -> bool {
    const ROUTINE: [&str; 8] = [
        "Accepted publickey for ",
        "pam_unix(sshd:session): session ",
        "pam_unix(sudo:session): session ",
        "pam_env(sshd:session): ",
        "pam_limits(sudo:session): Could not set limit for 'core'",
        "Received disconnect from ",
        "Disconnected from user ",
        " : PWD=/home/",
    ];
    ROUTINE.iter().any(|routine| line.contains(routine))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
