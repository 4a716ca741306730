//! Small helpers shared by the real-host tests.

use std::process::Output;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use backup_orchestrator_tests::{TRACE_FILE, TestHosts, TraceEvent, parse_trace};

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
