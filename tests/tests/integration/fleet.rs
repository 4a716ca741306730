//! The controller on a fleet: `backup-orchestrator-ctl @GROUP` over 10 names, 8 real hosts with
//! the user's 15 units, one whose known key changed, one address on the live test bridge with no
//! host behind it.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use backup_orchestrator_tests::{
    HostSpec, PLAN_UNITS, TestHosts, TraceKind, UnitSet, agent_binary, controller_binary,
    output_with_timeout,
};

use crate::support::{code, show, started_units, text, trace};

const CTL_TIMEOUT: Duration = Duration::from_secs(180);
const REACHABLE: usize = 8;

/// The fleet's files: an ssh_config with `h10` on an unused address of the group's bridge, a
/// known_hosts where h9's key is another host's, and an inventory.
struct Fleet {
    hosts: TestHosts,
    _dir: tempfile::TempDir,
    config: PathBuf,
    inventory: PathBuf,
}

impl Fleet {
    fn boot(group: &str) -> Fleet {
        let units = UnitSet::user_plan(0.3)
            .duration("sanoid", 2.0)
            .fail("syncoid-tank-services-sonarr", 1);
        let hosts = TestHosts::up(
            group,
            HostSpec {
                agent: Some(agent_binary()),
                units: Some(units),
                ..HostSpec::new(REACHABLE + 1)
            },
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let known_hosts = dir.path().join("known_hosts");
        let (h1, h9) = (hosts.ip("h1").to_string(), hosts.ip("h9").to_string());
        let h1_key = fs::read_to_string(hosts.known_hosts())
            .expect("read known_hosts")
            .lines()
            .find(|l| l.starts_with(&format!("{h1} ")))
            .expect("h1 in known_hosts")
            .split_once(' ')
            .expect("a key")
            .1
            .to_owned();
        let changed: String = fs::read_to_string(hosts.known_hosts())
            .expect("read known_hosts")
            .lines()
            .map(|l| {
                if l.starts_with(&format!("{h9} ")) {
                    format!("{h9} {h1_key}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs::write(&known_hosts, changed).expect("write known_hosts");

        let original = fs::read_to_string(hosts.ssh_config()).expect("read ssh_config");
        let mut config = original.replace(
            &hosts.known_hosts().display().to_string(),
            &known_hosts.display().to_string(),
        );
        // Same bridge, an address no host has: only ever this live test network.
        let octets = hosts.ip("h1").octets();
        let unused = format!("{}.{}.{}.99", octets[0], octets[1], octets[2]);
        let h1_block = original
            .split("\nHost ")
            .find(|block| block.starts_with("h1\n"))
            .expect("h1 in ssh_config")
            .replace(&h1, &unused)
            .replacen("h1\n", "h10\n", 1)
            .replace(
                &hosts.known_hosts().display().to_string(),
                &known_hosts.display().to_string(),
            );
        config.push_str(&format!("\nHost {h1_block}"));
        let config_path = dir.path().join("ssh_config");
        fs::write(&config_path, config).expect("write ssh_config");

        let all: Vec<String> = (1..=10).map(|n| format!("\"h{n}\"")).collect();
        let ok: Vec<String> = (1..=REACHABLE).map(|n| format!("\"h{n}\"")).collect();
        let inventory = dir.path().join("hosts.toml");
        fs::write(
            &inventory,
            format!(
                "[groups]\nall = [{}]\nok = [{}]\n\n[hosts.h2]\nagent_path = \"/usr/local/bin/backup-orchestrator\"\n",
                all.join(", "),
                ok.join(", ")
            ),
        )
        .expect("write inventory");
        Fleet {
            hosts,
            _dir: dir,
            config: config_path,
            inventory,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(controller_binary());
        cmd.arg("--ssh-config")
            .arg(&self.config)
            .arg("--inventory")
            .arg(&self.inventory)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn ctl(&self, args: &[&str]) -> Output {
        output_with_timeout(&mut self.command(args), CTL_TIMEOUT)
            .unwrap_or_else(|t| panic!("ctl {args:?}: {t}"))
    }

    fn reachable(&self) -> Vec<String> {
        (1..=REACHABLE).map(|n| format!("h{n}")).collect()
    }

    fn clear_traces(&self) {
        for host in self.reachable() {
            self.hosts.ssh_ok(&host, "sudo -n rm -f /run/bo-unit-trace");
        }
    }
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(bytes)))
}

/// Each host's run as (first unit start, last unit exit) from the units' own clock.
fn run_spans(fleet: &Fleet) -> Vec<(f64, f64)> {
    fleet
        .reachable()
        .iter()
        .map(|host| {
            let events = trace(&fleet.hosts, host);
            let start = events
                .iter()
                .filter(|e| e.kind == TraceKind::Start)
                .map(|e| e.at)
                .fold(f64::INFINITY, f64::min);
            let end = events
                .iter()
                .filter(|e| e.kind == TraceKind::Exit)
                .map(|e| e.at)
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(start.is_finite() && end.is_finite(), "{host} ran nothing");
            (start, end)
        })
        .collect()
}

/// The most spans overlapping at one instant.
fn max_overlap(spans: &[(f64, f64)]) -> usize {
    let mut edges: Vec<(f64, i32)> = spans
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // An exit before a start at the same instant: back to back is not overlapping.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        max = max.max(now);
    }
    usize::try_from(max).unwrap_or(0)
}

#[test]
fn fleet_runs_every_host_within_the_limit_and_exits_with_the_worst_code() {
    let fleet = Fleet::boot("fleet");

    // An unknown group: a usage error, nothing contacted.
    let out = fleet.ctl(&["--yes", "h1", "@nope"]);
    assert_eq!(code(&out), 64, "{}", show(&out));
    assert!(
        text(&out.stderr).contains("unknown group @nope"),
        "{}",
        show(&out)
    );
    assert!(started_units(&fleet.hosts, "h1").is_empty());

    // No terminal, no --yes: 64 before any connection.
    let out = fleet.ctl(&["@all"]);
    assert_eq!(code(&out), 64, "{}", show(&out));

    let started = Instant::now();
    let out = fleet.ctl(&["--yes", "--json", "--parallel", "3", "@all"]);
    let wall = started.elapsed();
    eprintln!("10-name fleet run with --parallel 3: {wall:?}");
    assert_eq!(code(&out), 3, "{}", show(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["exit_code"], 3, "{doc:#}");
    let elements = doc["hosts"].as_array().expect("hosts array");
    assert_eq!(elements.len(), 10, "{doc:#}");
    for (n, element) in elements.iter().enumerate().take(REACHABLE) {
        let host = format!("h{}", n + 1);
        assert_eq!(element["exit_code"], 1, "{host}: {element:#}");
        assert_eq!(element["total_services"], 15, "{host}: {element:#}");
        assert_eq!(element["failed"], 1, "{host}: {element:#}");
        let attach = fleet.ctl(&["--json", "attach", &host]);
        assert_eq!(code(&attach), 1, "{}", show(&attach));
        assert_eq!(
            *element,
            json(&attach.stdout),
            "{host}: the fleet's element differs from `--json attach {host}`"
        );
    }
    for (name, needle) in [("h9", "key"), ("h10", "connect")] {
        let element = elements.iter().find(|e| e["host"] == name).expect(name);
        assert_eq!(element["exit_code"], 3, "{element:#}");
        let error = element["error"].as_str().expect("error text");
        assert!(error.to_lowercase().contains(needle), "{name}: {error}");
        assert_eq!(element.as_object().unwrap().len(), 3, "{element:#}");
    }
    assert!(
        started_units(&fleet.hosts, "h9").is_empty(),
        "something started on the host whose key changed"
    );

    // --parallel 3: never more than 3 hosts' units at once, and 3 at once at some point.
    let overlap = max_overlap(&run_spans(&fleet));
    assert_eq!(overlap, 3, "hosts running at once: {:?}", run_spans(&fleet));

    // Ctrl-C: every run goes on; one `attach @ok` shows every unit of every host once.
    fleet.clear_traces();
    let child = fleet
        .command(&["--yes", "@ok"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctl");
    // The runs are asked together, once every host is checked: one started unit means all asked.
    for attempt in 0..100 {
        if !started_units(&fleet.hosts, "h1").is_empty() {
            break;
        }
        assert!(attempt < 99, "no unit started on h1");
        thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let interrupted = child.wait_with_output().expect("wait ctl");
    assert_eq!(code(&interrupted), 130, "{}", show(&interrupted));
    let stderr = text(&interrupted.stderr);
    assert!(stderr.contains("attach @ok"), "{stderr}");

    let out = fleet.ctl(&["attach", "@ok"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let stdout = text(&out.stdout);
    for host in fleet.reachable() {
        for unit in PLAN_UNITS {
            let shown = stdout
                .lines()
                .filter(|l| {
                    l.contains(&format!(" {host}: {unit} "))
                        && (l.contains(" succeeded in ") || l.contains(" failed "))
                })
                .count();
            assert_eq!(shown, 1, "{host} {unit} shown {shown} times:\n{stdout}");
        }
    }

    // cancel over a group.
    let mut child = fleet
        .command(&["--yes", "--quiet", "@ok"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ctl");
    thread::sleep(Duration::from_millis(800));
    let out = fleet.ctl(&["cancel", "@ok"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    for host in fleet.reachable() {
        assert!(
            text(&out.stdout).contains(&host),
            "{host} not cancelled:\n{}",
            show(&out)
        );
    }
    let _ = child.wait();
    let status = fleet.ctl(&["--json", "status", "@ok"]);
    assert_eq!(code(&status), 0, "{}", show(&status));

    // On a terminal: one question listing who cannot run and why, then a row per host and the
    // final table.
    let command = format!(
        "{} --ssh-config {} --inventory {} @all",
        controller_binary().display(),
        fleet.config.display(),
        fleet.inventory.display()
    );
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "printf 'y\\n' | script -qec \"$0\" /dev/null",
        &command,
    ])
    .env("TERM", "xterm-256color")
    .env("COLUMNS", "120");
    let out = output_with_timeout(&mut cmd, CTL_TIMEOUT).expect("ctl in a pty");
    assert_eq!(code(&out), 3, "{}", show(&out));
    let screen = text(&out.stdout);
    for needle in [
        "The backup plan will run on 8 hosts:",
        "It cannot run on 2 hosts:",
        "Run the backup plan on these hosts now? [y/N]",
        "failure rate",
        "syncoid-tank-services-sonarr.service: failed",
    ] {
        assert!(screen.contains(needle), "{needle:?} missing:\n{screen}");
    }
    let table: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("host "))
        .take_while(|l| l.starts_with('h'))
        .collect();
    assert_eq!(table.len(), 11, "{screen}");
    assert!(
        table[1].starts_with("h1 ") && table[1].contains("partial"),
        "{screen}"
    );
    assert!(
        table[10].starts_with("h10 ") && table[10].contains("could not run"),
        "{screen}"
    );
}
