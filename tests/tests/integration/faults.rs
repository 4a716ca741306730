//! The run under faults injected mid-run on a real host (issue 9, "the agent must never hang"):
//! a local process flooding the run's bus connection with forged systemd signals, journald
//! stopped, the run unit stopped, systemd re-executing, the controller going away again and
//! again. Every wait is bounded; each test says what the run must still do.

use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use backup_orchestrator_tests::{
    HostSpec, PLAN_UNITS, TestHosts, TraceKind, UnitSet, agent_binary, controller_binary,
    output_with_timeout,
};

use crate::schema::Summary;
use crate::support::{code, show, started_units, trace};

/// The forged-signal flooder, run on the host as the unprivileged test user.
const FLOOD: &str = include_str!("faults/flood.pl");

const RUN_UNIT: &str = "backup-orchestrator-run.service";
/// Bound on one `attach` or controller call.
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

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

/// Runs `script` as root on h1 (through base64: no quoting to get wrong); its stdout.
fn root(hosts: &TestHosts, script: &str) -> String {
    let encoded = BASE64_STANDARD.encode(script);
    hosts.ssh_ok("h1", &format!("echo {encoded} | base64 -d | sudo -n sh"))
}

/// Starts a run on h1 in the background (its starter detached), as `sudo backup-orchestrator`.
fn start_run(hosts: &TestHosts) {
    root(
        hosts,
        "setsid backup-orchestrator --yes --quiet </dev/null >/dev/null 2>&1 &",
    );
}

/// Waits (at most 20 s) until at least `n` units have started on h1.
fn wait_for_started(hosts: &TestHosts, n: usize) {
    for _ in 0..100 {
        if started_units(hosts, "h1").len() >= n {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
    panic!("fewer than {n} units started on h1 within 20 s");
}

/// `sudo backup-orchestrator attach --json` on h1, bounded: the run's summary.
fn attach(hosts: &TestHosts) -> (Output, Summary) {
    let mut ssh = hosts.ssh_command();
    ssh.args(["h1", "sudo -n backup-orchestrator attach --json"]);
    let out = output_with_timeout(&mut ssh, CALL_TIMEOUT).unwrap_or_else(|t| panic!("{t}"));
    let summary = Summary::parse(&out.stdout);
    (out, summary)
}

/// Every unit of the user's plan succeeded, once, with its result and exit status right.
fn assert_all_succeeded(summary: &Summary, out: &Output) {
    assert_eq!(
        (
            summary.total_services,
            summary.successful,
            summary.exit_code
        ),
        (15, 15, 0),
        "{}",
        show(out)
    );
    for unit in PLAN_UNITS {
        let report = summary.unit(unit);
        assert_eq!(
            (report.result.as_deref(), report.exit_status),
            (Some("success"), Some(0)),
            "{unit}: {report:?}"
        );
    }
}

/// Counts the host's `serve` processes (counting only: nothing is killed by name).
fn serve_processes(hosts: &TestHosts) -> usize {
    hosts
        .ssh_ok(
            "h1",
            "pgrep -a -x backup-orchestr | grep -c ' serve$' || true",
        )
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn faults_a_flood_of_forged_systemd_signals_neither_hangs_nor_fools_the_run() {
    let hosts = boot("ft-flood", UnitSet::user_plan(1.0));
    // The same run without the flood: what the units need.
    let baseline = hosts.ssh("h1", "sudo -n backup-orchestrator --yes --json");
    assert_eq!(code(&baseline), 0, "{}", show(&baseline));
    let baseline = Summary::parse(&baseline.stdout);
    root(&hosts, "rm -f /run/bo-unit-trace");

    hosts.ssh_ok(
        "h1",
        &format!(
            "echo {} | base64 -d > /tmp/flood.pl",
            BASE64_STANDARD.encode(FLOOD)
        ),
    );
    start_run(&hosts);
    wait_for_started(&hosts, 1);
    // The run's own connection(s): the unique names the run unit's main process holds.
    let names = hosts.ssh_ok(
        "h1",
        &format!(
            "pid=$(systemctl show -p MainPID --value {RUN_UNIT}); \
             busctl list --unique --no-legend | awk -v pid=\"$pid\" '$2 == pid {{print $1}}'"
        ),
    );
    let names: Vec<&str> = names.split_whitespace().collect();
    assert!(!names.is_empty(), "the run has no bus connection");
    let started = Instant::now();
    for name in &names {
        // As the unprivileged test user, no sudo: 5,000 signals from 120 connections.
        let sent = hosts.ssh_ok(
            "h1",
            &format!(
                "timeout 60 perl /tmp/flood.pl {name} 120 5000 {}",
                PLAN_UNITS.join(" ")
            ),
        );
        assert!(sent.contains("sent 5000 signals"), "{sent}");
    }
    eprintln!("flood sent in {:?}", started.elapsed());

    let (out, summary) = attach(&hosts);
    eprintln!(
        "with the flood: {} ms, without: {} ms",
        summary.duration_ms, baseline.duration_ms
    );
    assert_all_succeeded(&summary, &out);
    assert!(
        summary.duration_ms < baseline.duration_ms + 1000,
        "the flood slowed the run: {} ms, {} ms without it",
        summary.duration_ms,
        baseline.duration_ms
    );
    let mut starts = started_units(&hosts, "h1");
    starts.dedup();
    assert_eq!(starts.len(), 15, "units started twice or not at all");
    // The run saw the flood and said so.
    let journal = root(
        &hosts,
        &format!("journalctl --no-pager -o cat -u {RUN_UNIT} | grep 'ignored' || true"),
    );
    let ignored: u64 = journal
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(
        ignored >= 5000,
        "the run did not see the forged signals: {journal:?}"
    );
}

/// SIGCONTs journald when dropped, so a failing test never leaves the host's journal stopped.
struct ResumeJournald<'h> {
    hosts: &'h TestHosts,
}

impl Drop for ResumeJournald<'_> {
    fn drop(&mut self) {
        let mut ssh = self.hosts.ssh_command();
        ssh.args([
            "h1",
            "sudo -n sh -c 'kill -CONT $(systemctl show -p MainPID --value systemd-journald)'",
        ]);
        let _ = output_with_timeout(&mut ssh, Duration::from_secs(30));
    }
}

/// The start of a root script: a run started in the background, and journald SIGSTOPped as its
/// first unit starts (the EXIT trap resumes it whatever happens next).
const STOP_JOURNALD_AT_FIRST_UNIT: &str =
    "journald=$(systemctl show -p MainPID --value systemd-journald)
        trap 'kill -CONT $journald' EXIT
        rm -f /run/bo-unit-trace
        setsid backup-orchestrator --yes --quiet </dev/null >/dev/null 2>&1 &
        for i in $(seq 100); do [ -s /run/bo-unit-trace ] && break; sleep 0.1; done
        kill -STOP $journald";

/// What the runs on h1 said about journal lines journald never got (empty when nothing was lost).
fn dropped_said(hosts: &TestHosts) -> String {
    root(
        hosts,
        &format!(
            "journalctl --no-pager -o cat -u {RUN_UNIT} | grep 'journal line(s) dropped' || true"
        ),
    )
}

#[test]
fn faults_a_journald_stopped_past_the_end_of_the_run_neither_slows_it_nor_goes_unsaid() {
    let hosts = boot("ft-journal", UnitSet::user_plan(1.0));
    let baseline = hosts.ssh("h1", "sudo -n backup-orchestrator --yes --json");
    assert_eq!(code(&baseline), 0, "{}", show(&baseline));
    let baseline = Summary::parse(&baseline.stdout);

    let _resume = ResumeJournald { hosts: &hosts };
    // One root session for the whole fault: while journald is stopped, logins (sshd, sudo, PAM
    // all log to it) may block, so nothing here logs in until journald runs again. The run's
    // summary file is waited for (at most 45 s); journald stays stopped 3 s more, past the 2 s
    // the run's end waits for it to take the queued entries, then resumes.
    let script = format!(
        "{STOP_JOURNALD_AT_FIRST_UNIT}
        id=$(cat /var/lib/backup-orchestrator/current)
        start=$(date +%s%N)
        for i in $(seq 450); do
          [ -e /var/lib/backup-orchestrator/runs/$id/summary.json ] && break
          sleep 0.1
        done
        echo waited_ms=$(( ($(date +%s%N) - start) / 1000000 ))
        sleep 3"
    );
    let waited = root(&hosts, &script);
    let (out, summary) = attach(&hosts);
    eprintln!(
        "journald stopped: {} ms ({waited}), running: {} ms",
        summary.duration_ms, baseline.duration_ms
    );
    assert_all_succeeded(&summary, &out);
    assert!(
        summary.duration_ms < baseline.duration_ms + 1000,
        "a stopped journald slowed the run: {} ms, {} ms with it running ({waited})",
        summary.duration_ms,
        baseline.duration_ms
    );
    // What journald missed is said, in the journal, once it runs again.
    let said = dropped_said(&hosts);
    eprintln!("{said}");
    assert!(
        !said.trim().is_empty(),
        "the run did not say what it dropped"
    );
}

#[test]
fn faults_a_journald_that_stalls_for_a_moment_loses_no_entry() {
    let hosts = boot("ft-jstall", UnitSet::user_plan(1.0));
    let _resume = ResumeJournald { hosts: &hosts };
    // journald stopped from the first unit's start for 1.5 s: sanoid ends and the seven syncoid
    // units start meanwhile, a burst of more entries than journald's socket holds unread.
    let script = format!(
        "{STOP_JOURNALD_AT_FIRST_UNIT}
        sleep 1.5
        kill -CONT $journald
        id=$(cat /var/lib/backup-orchestrator/current)
        for i in $(seq 450); do
          [ -e /var/lib/backup-orchestrator/runs/$id/summary.json ] && break
          sleep 0.1
        done
        echo $id"
    );
    let run_id = root(&hosts, &script).trim().to_owned();
    let (out, summary) = attach(&hosts);
    assert_all_succeeded(&summary, &out);
    assert_eq!(summary.run_id, run_id);
    // The run unit is gone once its end has waited for the journal.
    root(
        &hosts,
        &format!(
            "for i in $(seq 100); do systemctl is-active --quiet {RUN_UNIT} || exit 0; sleep 0.1; done"
        ),
    );
    let started = root(
        &hosts,
        &format!(
            "journalctl --no-pager -o cat RUN_ID={run_id} BACKUP_ORCHESTRATOR_EVENT=unit_started"
        ),
    );
    assert_eq!(started.lines().count(), summary.units.len(), "{started}");
    for unit in &summary.units {
        assert!(
            started.contains(&unit.unit),
            "{} not in:\n{started}",
            unit.unit
        );
    }
    let said = dropped_said(&hosts);
    assert!(said.trim().is_empty(), "entries were dropped: {said}");
}

#[test]
fn faults_systemctl_stop_of_the_run_writes_the_summary_at_once_and_leaves_units_running() {
    let hosts = boot("ft-stop", UnitSet::user_plan(0.2).duration("sanoid", 60.0));
    start_run(&hosts);
    wait_for_started(&hosts, 1);
    thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    root(&hosts, &format!("systemctl stop --no-block {RUN_UNIT}"));
    let (out, summary) = attach(&hosts);
    let took = asked.elapsed();
    eprintln!("summary {took:?} after the stop request");
    assert!(
        took < Duration::from_secs(5),
        "no summary within 5 s of the stop: {took:?}"
    );
    assert!(summary.cancelled, "{}", show(&out));
    let sanoid = summary.unit("sanoid.service");
    assert!(sanoid.still_running, "{sanoid:?}");
    // The stop was the run's, not the backups': sanoid still runs.
    let state = hosts.ssh_ok("h1", "systemctl is-active sanoid.service || true");
    assert_eq!(state.trim(), "activating", "the running unit was stopped");
    let run = hosts.ssh_ok("h1", &format!("systemctl is-active {RUN_UNIT} || true"));
    assert_ne!(run.trim(), "active", "the run did not exit");
}

#[test]
fn faults_daemon_reexec_mid_run_leaves_every_result_right() {
    let hosts = boot("ft-reexec", UnitSet::user_plan(1.0));
    let owner = || {
        hosts
            .ssh_ok(
                "h1",
                "busctl status org.freedesktop.systemd1 | sed -n 's/^UniqueName=//p'",
            )
            .trim()
            .to_owned()
    };
    let before = owner();
    start_run(&hosts);
    // Once in the first stage, once among the seven parallel syncoid units.
    wait_for_started(&hosts, 1);
    root(&hosts, "systemctl daemon-reexec");
    wait_for_started(&hosts, 3);
    root(&hosts, "systemctl daemon-reexec");
    let after = owner();
    eprintln!("systemd's unique name: {before} before, {after} after two daemon-reexecs");
    let (out, summary) = attach(&hosts);
    assert_all_succeeded(&summary, &out);
    let mut starts = started_units(&hosts, "h1");
    starts.dedup();
    assert_eq!(starts.len(), 15, "units started twice or not at all");
}

/// `backup-orchestrator-ctl ARGS… h1` in the background.
fn spawn_ctl(hosts: &TestHosts, args: &[&str]) -> Child {
    Command::new(controller_binary())
        .arg("--ssh-config")
        .arg(hosts.ssh_config())
        .args(args)
        .arg("h1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ctl")
}

/// Our own controller child, SIGKILLed and reaped.
fn kill(mut child: Child) {
    child.kill().expect("SIGKILL ctl");
    child.wait().expect("reap ctl");
}

/// The controller's summary, waiting for it at most [`CALL_TIMEOUT`].
fn finish(child: Child) -> (Output, Summary) {
    let out = finish_output(child);
    let summary = Summary::parse(&out.stdout);
    (out, summary)
}

/// The controller's output, waiting for it at most [`CALL_TIMEOUT`].
fn finish_output(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(CALL_TIMEOUT) else {
        // Our own child, by PID.
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        panic!("ctl (pid {pid}) did not finish within {CALL_TIMEOUT:?}");
    };
    out.expect("collect ctl output")
}

#[test]
fn faults_five_reconnects_of_a_controller_leave_at_most_one_serve() {
    let hosts = boot(
        "ft-reconn",
        UnitSet::user_plan(0.2).duration("sanoid", 20.0),
    );
    // Not a controller: no Hello comes, the session ends on its own.
    let started = Instant::now();
    // Its input stays open and silent (a sleep holds the pipe; the session does not wait for it).
    let stray = hosts.ssh(
        "h1",
        "bash -c 'sudo -n backup-orchestrator serve < <(exec sleep 30 </dev/null 2>/dev/null)'",
    );
    let waited = started.elapsed();
    eprintln!("serve without a Hello ended after {waited:?}");
    assert_eq!(code(&stray), 3, "{}", show(&stray));
    assert!(waited < Duration::from_secs(15), "serve waited {waited:?}");
    assert!(
        crate::support::text(&stray.stderr).contains("no Hello"),
        "{}",
        show(&stray)
    );

    let mut ctl = spawn_ctl(&hosts, &["--yes", "--json"]);
    wait_for_started(&hosts, 1);
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(500));
        kill(ctl);
        ctl = spawn_ctl(&hosts, &["--json", "attach"]);
    }
    thread::sleep(Duration::from_secs(2));
    // sanoid still runs: the run is quiet, and only the last attach follows it.
    let serving = serve_processes(&hosts);
    eprintln!("{serving} serve process(es) after 5 reconnects");
    assert!(serving <= 1, "{serving} serve processes after 5 reconnects");
    let (out, summary) = finish(ctl);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!(summary.successful, 15);
    thread::sleep(Duration::from_secs(1));
    assert_eq!(
        serve_processes(&hosts),
        0,
        "a serve outlived its controller"
    );
}

/// A number in `0..bound` that differs from run to run (no rand crate for one number).
fn random_below(bound: u64, salt: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(salt);
    hasher.finish() % bound
}

#[test]
fn faults_a_dozen_runs_each_with_its_controller_killed_are_each_whole() {
    let hosts = boot("ft-soak", UnitSet::user_plan(0.05));
    let mut runs = Vec::new();
    for round in 0..12 {
        let ctl = spawn_ctl(&hosts, &["--yes", "--json"]);
        let moment = Duration::from_millis(random_below(2500, round));
        thread::sleep(moment);
        kill(ctl);
        let out = finish_output(spawn_ctl(&hosts, &["--json", "attach"]));
        // A controller killed before its request reached the host started nothing: attach
        // then shows the previous run, or, before the first, says there is none.
        if runs.is_empty()
            && code(&out) == 3
            && crate::support::text(&out.stdout).contains("no backup run on this host yet")
        {
            eprintln!("round {round}: killed after {moment:?}, before any run");
            continue;
        }
        let summary = Summary::parse(&out.stdout);
        if runs.last() != Some(&summary.run_id) {
            assert_eq!(
                code(&out),
                0,
                "round {round}, killed after {moment:?}: {}",
                show(&out)
            );
            assert_eq!(
                (summary.total_services, summary.successful),
                (15, 15),
                "round {round}, killed after {moment:?}"
            );
            runs.push(summary.run_id.clone());
        }
        eprintln!(
            "round {round}: killed after {moment:?}, run {}",
            summary.run_id
        );
    }
    assert!(
        runs.len() >= 6,
        "most controllers died before starting: {runs:?}"
    );
    // Every unit started exactly once per run, by the units' own trace.
    let starts = trace(&hosts, "h1")
        .into_iter()
        .filter(|e| e.kind == TraceKind::Start)
        .count();
    assert_eq!(starts, 15 * runs.len(), "runs {runs:?}");
    thread::sleep(Duration::from_secs(1));
    assert_eq!(serve_processes(&hosts), 0, "serve processes left behind");
}
