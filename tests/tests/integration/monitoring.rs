//! Monitoring on real hosts: the run unit's exit status, the Prometheus textfile (checked with
//! promtool), the plan's hooks, a failed unit's own journal lines, and `serve`'s `logs` and
//! `history` answers, all against real systemd and journald.

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use backup_orchestrator_proto::codec::{MessageCodec, encode_frame};
use backup_orchestrator_proto::{Hello, RefusalKind, Reply, Request, Role, RunState};
use backup_orchestrator_tests::{HostSpec, TestHosts, UnitSet, agent_binary};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::schema::Summary;
use crate::support::{code, show, text, write_remote_file};

/// The built-in plan, as shipped.
const EXAMPLE_PLAN: &str = include_str!("../../../ansible-free-deploy/plan.example.toml");
const TEXTFILE: &str = "/var/lib/node-exporter/backup-orchestrator.prom";
/// A syncoid job of the plan's replication stage that says why it fails, in its own words.
const LOUD: &str = "syncoid-tank-services-loud.service";
const LOUD_LINES: [&str; 2] = [
    "CRITICAL ERROR: ssh: connect to host nas port 22: No route to host",
    "syncoid: replication of tank/services/loud failed",
];

const HOOKS: &str = r#"
[monitoring]
textfile = "/var/lib/node-exporter/backup-orchestrator.prom"

[[hook]]
when = "start"
command = ["/bin/sh", "-c", "cat > /var/tmp/hook-start.json; env > /var/tmp/hook-start.env"]

[[hook]]
when = ["success", "partial", "failure"]
command = ["/bin/sh", "-c", "cat > /var/tmp/hook-end-$EXIT_CODE.json; echo \"$RUN_ID $HOST $EXIT_CODE\" >> /var/tmp/hook-end.log"]

[[hook]]
when = "finish"
command = ["/bin/sh", "-c", "sleep 60 & echo $! > /var/tmp/hang.pid; wait"]
timeout = "2s"
"#;

fn boot(group: &str) -> TestHosts {
    let hosts = TestHosts::up(
        group,
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(UnitSet::user_plan(0.1)),
            ..HostSpec::new(1)
        },
    );
    // Fails once /run/bo-loud-fails exists, with two lines on stdout saying why.
    let unit = format!(
        "[Unit]\nDescription=loud syncoid job\n\n[Service]\nType=oneshot\n\
         ExecStart=/bin/sh -c 'if [ -e /run/bo-loud-fails ]; then echo \"{}\"; echo \"{}\"; exit 1; fi; echo fine'\n",
        LOUD_LINES[0], LOUD_LINES[1]
    );
    write_remote_file(&hosts, "h1", &format!("/etc/systemd/system/{LOUD}"), &unit);
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/plan.toml",
        &format!("{EXAMPLE_PLAN}{HOOKS}"),
    );
    hosts.ssh_ok(
        "h1",
        "sudo -n systemctl daemon-reload && sudo -n mkdir -p /var/lib/node-exporter",
    );
    hosts
}

/// `sudo -n backup-orchestrator --yes --json ARGS` on h1, and its summary.
fn run_json(hosts: &TestHosts, args: &str) -> (std::process::Output, Summary) {
    let out = hosts.ssh(
        "h1",
        &format!("sudo -n backup-orchestrator --yes --json {args}"),
    );
    let summary = Summary::parse(&out.stdout);
    (out, summary)
}

/// The textfile, after `promtool check metrics` (the exposition format's own parser) passed it.
fn checked_textfile(hosts: &TestHosts) -> String {
    let text = hosts.ssh_ok("h1", &format!("cat {TEXTFILE}"));
    let mode = hosts.ssh_ok("h1", &format!("stat -c %a {TEXTFILE}"));
    assert_eq!(mode.trim(), "644");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`, see tests/hosts/install-deps)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {}\n{text}", show(&out));
    text
}

/// The value of the sample `series` (name and labels as written).
fn value(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(str::to_owned)
}

fn loud_success(text: &str) -> Option<String> {
    value(
        text,
        &format!(r#"backup_orchestrator_unit_last_success_timestamp_seconds{{unit="{LOUD}"}}"#),
    )
}

/// `systemctl show`'s `Result`, `ExecMainStatus` and `ActiveState` of the run unit.
fn run_unit_state(hosts: &TestHosts) -> String {
    hosts
        .ssh_ok(
            "h1",
            "systemctl show -p Result,ExecMainStatus,ActiveState backup-orchestrator-run.service",
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn monitoring_textfile_hooks_and_unit_status_follow_a_success_a_partial_and_a_critical_run() {
    let hosts = boot("mon-runs");

    // 1. Every unit succeeds.
    let (out, first) = run_json(&hosts, "");
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert_eq!((first.total_services, first.successful), (16, 16));
    let prom = checked_textfile(&hosts);
    let day1 =
        value(&prom, "backup_orchestrator_last_success_timestamp_seconds").expect("a last success");
    assert_eq!(
        value(&prom, "backup_orchestrator_last_run_timestamp_seconds").as_ref(),
        Some(&day1)
    );
    assert_eq!(loud_success(&prom).as_ref(), Some(&day1));
    assert_eq!(
        value(&prom, r#"backup_orchestrator_units{outcome="success"}"#).as_deref(),
        Some("16")
    );
    // The start hook got the run_started event and the environment, without EXIT_CODE.
    let start: serde_json::Value =
        serde_json::from_str(&hosts.ssh_ok("h1", "cat /var/tmp/hook-start.json")).unwrap();
    assert_eq!(start["kind"], "run_started");
    assert_eq!(start["run_id"], first.run_id.as_str());
    let env = hosts.ssh_ok("h1", "cat /var/tmp/hook-start.env");
    assert!(env.contains(&format!("RUN_ID={}\n", first.run_id)), "{env}");
    assert!(env.contains(&format!("HOST={}\n", first.host)), "{env}");
    assert!(!env.contains("EXIT_CODE="), "{env}");
    // The success hook got the summary, exactly as --json prints it.
    let hooked = Summary::parse(
        hosts
            .ssh_ok("h1", "cat /var/tmp/hook-end-0.json")
            .as_bytes(),
    );
    assert_eq!(hooked, first);

    // 2. The loud syncoid job fails: partial, the run unit failed with status 1.
    hosts.ssh_ok("h1", "sudo -n touch /run/bo-loud-fails");
    let (out, second) = run_json(&hosts, "");
    assert_eq!(code(&out), 1, "{}", show(&out));
    let loud = second.unit(LOUD);
    assert_eq!(loud.outcome, "failed");
    for line in LOUD_LINES {
        assert!(
            loud.journal.iter().any(|l| l == line),
            "{line:?} not in the unit's journal lines: {:?}",
            loud.journal
        );
    }
    assert!(
        second
            .units
            .iter()
            .filter(|u| u.unit != LOUD)
            .all(|u| u.journal.is_empty()),
        "only the failed unit carries journal lines"
    );
    assert_eq!(
        run_unit_state(&hosts),
        "Result=exit-code ExecMainStatus=1 ActiveState=failed"
    );
    let prom = checked_textfile(&hosts);
    assert_eq!(
        value(&prom, "backup_orchestrator_last_exit_code").as_deref(),
        Some("1")
    );
    assert_eq!(
        value(&prom, "backup_orchestrator_last_success_timestamp_seconds").as_ref(),
        Some(&day1)
    );
    assert_eq!(loud_success(&prom).as_ref(), Some(&day1), "{prom}");
    assert_eq!(
        value(
            &prom,
            &format!(r#"backup_orchestrator_unit_success{{unit="{LOUD}",stage="replication"}}"#)
        )
        .as_deref(),
        Some("0")
    );
    let partial = Summary::parse(
        hosts
            .ssh_ok("h1", "cat /var/tmp/hook-end-1.json")
            .as_bytes(),
    );
    assert_eq!(partial, second);
    // The hanging finish hook was killed at its 2 s, said so, and changed nothing.
    let replay = hosts.ssh(
        "h1",
        &format!("sudo -n backup-orchestrator attach {}", second.run_id),
    );
    assert_eq!(code(&replay), 1, "{}", show(&replay));
    assert!(
        text(&replay.stdout)
            .contains("did not finish within 2s: killed (the verdict is unchanged)"),
        "{}",
        show(&replay)
    );
    // The failed unit's own lines, indented under its failure in the plain output.
    let replay_text = text(&replay.stdout);
    let lines: Vec<&str> = replay_text.lines().collect();
    let failed_at = lines
        .iter()
        .position(|l| l.contains(&format!("{LOUD} failed with result: exit-code")))
        .unwrap_or_else(|| panic!("no failure line for {LOUD}: {}", show(&replay)));
    let after = &lines[failed_at + 1..(failed_at + 7).min(lines.len())];
    for line in LOUD_LINES {
        assert!(
            after.iter().any(|l| l.ends_with(&format!("    │ {line}"))),
            "{line:?} not under the failure: {after:#?}"
        );
    }
    let mut hang_gone = false;
    for _ in 0..25 {
        if hosts
            .ssh("h1", "sudo -n kill -0 \"$(cat /var/tmp/hang.pid)\"")
            .status
            .success()
        {
            thread::sleep(Duration::from_millis(200));
        } else {
            hang_gone = true;
            break;
        }
    }
    assert!(hang_gone, "the hanging hook's child outlived its timeout");

    // 3. Preflight fails: critical, nothing started, status 2; the successes stay where they were.
    write_remote_file(
        &hosts,
        "h1",
        "/etc/backup-orchestrator/critical.toml",
        &format!("{EXAMPLE_PLAN}{HOOKS}").replace("min_free = \"50G\"", "min_free = \"1000T\""),
    );
    let (out, third) = run_json(&hosts, "--plan /etc/backup-orchestrator/critical.toml");
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(third.critical_reason.is_some());
    assert_eq!(
        run_unit_state(&hosts),
        "Result=exit-code ExecMainStatus=2 ActiveState=failed"
    );
    let prom = checked_textfile(&hosts);
    assert_eq!(
        value(&prom, "backup_orchestrator_last_exit_code").as_deref(),
        Some("2")
    );
    assert_eq!(
        value(&prom, "backup_orchestrator_last_success_timestamp_seconds").as_ref(),
        Some(&day1)
    );
    assert_eq!(loud_success(&prom).as_ref(), Some(&day1));
    assert!(
        !prom.contains("backup_orchestrator_unit_success{"),
        "{prom}"
    );
    let critical = Summary::parse(
        hosts
            .ssh_ok("h1", "cat /var/tmp/hook-end-2.json")
            .as_bytes(),
    );
    assert_eq!(critical, third);
    let ends = hosts.ssh_ok("h1", "cat /var/tmp/hook-end.log");
    let expected: Vec<String> = [(&first, 0), (&second, 1), (&third, 2)]
        .iter()
        .map(|(s, code)| format!("{} {} {code}", s.run_id, s.host))
        .collect();
    assert_eq!(ends.lines().collect::<Vec<_>>(), expected);
}

/// One `serve` session on h1: our Hello and `request` in, the replies out.
fn serve(hosts: &TestHosts, request: &Request) -> Vec<Reply> {
    let mut frames =
        encode_frame(&Hello::new(Role::Controller, "monitoring-test 0")).expect("encode");
    frames.extend(encode_frame(request).expect("encode"));
    let out = hosts.ssh(
        "h1",
        &format!(
            "echo {} | base64 -d | sudo -n backup-orchestrator serve | base64 -w0",
            BASE64_STANDARD.encode(frames)
        ),
    );
    assert!(out.status.success(), "{}", show(&out));
    let bytes = BASE64_STANDARD
        .decode(text(&out.stdout).trim())
        .expect("base64");
    let mut buf = BytesMut::from(&bytes[..]);
    let hello = MessageCodec::<Hello>::new()
        .decode(&mut buf)
        .expect("hello")
        .expect("a whole hello");
    assert!(hello.has_capability("logs") && hello.has_capability("history"));
    let mut codec = MessageCodec::<Reply>::new();
    let mut replies = Vec::new();
    while let Some(reply) = codec.decode_eof(&mut buf).expect("reply") {
        replies.push(reply);
    }
    replies
}

#[test]
fn monitoring_serve_answers_logs_of_planned_units_only_and_history_and_the_journal_shows_runs() {
    let hosts = boot("mon-serve");
    let (out, first) = run_json(&hosts, "");
    assert_eq!(code(&out), 0, "{}", show(&out));
    hosts.ssh_ok("h1", "sudo -n touch /run/bo-loud-fails");
    let (out, second) = run_json(&hosts, "");
    assert_eq!(code(&out), 1, "{}", show(&out));

    // The failed unit's last invocation, its own lines.
    let logs = serve(
        &hosts,
        &Request::Logs {
            unit: LOUD.into(),
            lines: 20,
        },
    );
    match &logs[..] {
        [Reply::Logs(logs)] => {
            assert_eq!(logs.unit, LOUD);
            assert!(logs.invocation_id.is_some(), "{logs:?}");
            for line in LOUD_LINES {
                assert!(logs.lines.iter().any(|l| l == line), "{logs:?}");
            }
            assert!(
                !logs.lines.iter().any(|l| l == "fine"),
                "an older invocation's line: {logs:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Not a unit of the plan: refused, whatever it is.
    for unit in ["ssh.service", "syncoid-tank-replication-info.service"] {
        let refused = serve(
            &hosts,
            &Request::Logs {
                unit: unit.into(),
                lines: 20,
            },
        );
        assert!(
            matches!(&refused[..], [Reply::Refused(r)] if r.kind == RefusalKind::NotInPlan && r.exit_code == 64),
            "{unit}: {refused:?}"
        );
    }

    // The same on the host's command line (20 lines: systemd's own lines about the invocation,
    // "Failed with result", "Consumed … CPU time", come after the unit's and may take five).
    let out = hosts.ssh(
        "h1",
        &format!("sudo -n backup-orchestrator logs {LOUD} -n 20"),
    );
    assert_eq!(code(&out), 0, "{}", show(&out));
    for line in LOUD_LINES {
        assert!(
            text(&out.stdout).lines().any(|l| l == line),
            "{}",
            show(&out)
        );
    }
    let out = hosts.ssh("h1", "sudo -n backup-orchestrator logs ssh.service");
    assert_eq!(code(&out), 64, "{}", show(&out));
    assert!(
        text(&out.stderr).contains("not a unit of this host's plan"),
        "{}",
        show(&out)
    );

    // Both runs, oldest first, with their verdicts and counts.
    let history = serve(&hosts, &Request::History);
    let [Reply::History(history)] = &history[..] else {
        panic!("{history:?}");
    };
    let runs: Vec<_> = history
        .runs
        .iter()
        .map(|r| {
            (
                r.run_id.as_str(),
                r.state,
                r.exit_code,
                r.failed,
                r.total_services,
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            (first.run_id.as_str(), RunState::Finished, Some(0), 0, 16),
            (second.run_id.as_str(), RunState::Finished, Some(1), 1, 16),
        ]
    );

    // An older run replays by its id.
    let replay = hosts.ssh(
        "h1",
        &format!("sudo -n backup-orchestrator attach --json {}", first.run_id),
    );
    assert_eq!(code(&replay), 0, "{}", show(&replay));
    assert_eq!(Summary::parse(&replay.stdout), first);

    // The user's runbook: `journalctl -u backup-orchestrator` shows both runs' lines.
    let journal = hosts.ssh_ok(
        "h1",
        "sudo -n journalctl --no-pager -o cat -u backup-orchestrator",
    );
    for run in [&first, &second] {
        assert!(
            journal.contains(&run.run_id),
            "{} not in:\n{journal}",
            run.run_id
        );
    }
    assert!(journal.contains(LOUD), "{journal}");
    // Every event reaches the journal, bursts included: the replication stage starts seven units
    // at once, more entries than a datagram socket holds unread (10 by default). Before the
    // journal had its own writer, an ordinary run lost 6 of its 15 "starting" entries here.
    for run in [&first, &second] {
        let started = hosts.ssh_ok(
            "h1",
            &format!(
                "sudo -n journalctl --no-pager -o cat RUN_ID={} BACKUP_ORCHESTRATOR_EVENT=unit_started",
                run.run_id
            ),
        );
        let ran: Vec<&str> = run
            .units
            .iter()
            .filter(|u| u.outcome != "skipped")
            .map(|u| u.unit.as_str())
            .collect();
        assert_eq!(started.lines().count(), ran.len(), "{started}");
        for unit in ran {
            assert!(started.contains(unit), "{unit} not in:\n{started}");
        }
    }
    let dropped = hosts.ssh_ok(
        "h1",
        "sudo -n journalctl --no-pager -o cat -u backup-orchestrator-run.service \
         | grep -c 'journal line(s) dropped' || true",
    );
    assert_eq!(dropped.trim(), "0", "a run dropped journal lines");
    // ...and nothing of the timer's service or of other units.
    let other = hosts.ssh_ok(
        "h1",
        "sudo -n journalctl --no-pager -o cat -u backup-orchestrator-scheduled",
    );
    assert!(!other.contains(&first.run_id), "{other}");
}
