//! Small helpers shared by the real-host tests.

use std::process::{Child, Command, Output};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use backup_orchestrator_tests::{TRACE_FILE, TestHosts, TraceEvent, parse_trace};

use crate::schema::Summary;

/// Writes `content` to `path` on `host` as root (through base64, so any bytes survive the
/// remote shell).
pub fn write_remote_file(hosts: &TestHosts, host: &str, path: &str, content: &str) {
    let encoded = BASE64_STANDARD.encode(content);
    hosts.ssh_ok(
        host,
        &format!(
            "sudo -n mkdir -p \"$(dirname {path})\" && echo {encoded} | base64 -d | sudo -n tee {path} >/dev/null"
        ),
    );
}

/// The units' own start/exit trace on `host` (empty when no unit ran).
pub fn trace(hosts: &TestHosts, host: &str) -> Vec<TraceEvent> {
    parse_trace(&hosts.ssh_ok(host, &format!("cat {TRACE_FILE} 2>/dev/null || true")))
}

/// Units that started on `host`, from the trace.
pub fn started_units(hosts: &TestHosts, host: &str) -> Vec<String> {
    let mut units: Vec<String> = trace(hosts, host)
        .into_iter()
        .filter(|e| e.kind == backup_orchestrator_tests::TraceKind::Start)
        .map(|e| e.unit)
        .collect();
    units.sort();
    units
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Output for an assertion message.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Waits for `child` with its output collected, killing it (our own child, by PID) after
/// `timeout`.
pub fn wait_bounded(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // The receiver is gone only when the test already failed on the timeout.
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("collect ctl output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("ctl (pid {pid}) did not finish within {timeout:?}");
        }
    }
}

/// Waits (at most 10 s) until `count` units of the plan have started on h1.
pub fn wait_for_started_units(hosts: &TestHosts, count: usize) {
    for _ in 0..50 {
        if started_units(hosts, "h1").len() >= count {
            return;
        }
        thread::sleep(Duration::from_millis(200));
    }
    panic!("fewer than {count} units started on h1 within 10 s");
}

/// A controller that lost its connection mid-run: it said so, re-attached, and its JSON summary
/// has the whole 15-unit run, each unit once. Returns the summary for further checks.
pub fn assert_whole_after_reconnect(out: &Output) -> Summary {
    assert_eq!(code(out), 0, "{}", show(out));
    assert!(
        text(&out.stderr).contains("reconnect"),
        "no word of the reconnect: {}",
        show(out)
    );
    let summary = Summary::parse(&out.stdout);
    assert_eq!((summary.total_services, summary.successful), (15, 15));
    let mut units: Vec<&str> = summary.units.iter().map(|u| u.unit.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    assert_eq!(units.len(), 15, "duplicated or missing units");
    summary
}
