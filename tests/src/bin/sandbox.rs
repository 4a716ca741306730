//! `sandbox`: what a new user runs first (the README's first command, through `tests/sandbox`).
//!
//! Boots one throw-away test host with the user's 15 backup units (a few seconds each, one
//! syncoid failing), installs the freshly built agent in it, runs `backup-orchestrator-ctl`
//! against it with live progress, and tears the host down again. Extra arguments go to the
//! controller (e.g. `--dry-run`, `--json`).

use std::process::{Command, ExitCode};

use backup_orchestrator_tests::{HostSpec, TestHosts, UnitSet, agent_binary, controller_binary};

fn main() -> ExitCode {
    let units = UnitSet::user_plan(2.0)
        .duration("sanoid", 1.0)
        .duration("restic-backup-immich", 4.0)
        .duration("restic-backup-paperless", 3.0)
        .fail("syncoid-tank-services-prowlarr", 1);
    eprintln!("sandbox: booting a test host with the 15 backup units (one syncoid fails)…");
    let hosts = TestHosts::up(
        "sandbox",
        HostSpec {
            agent: Some(agent_binary()),
            units: Some(units),
            ..HostSpec::new(1)
        },
    );
    let config = hosts.ssh_config();
    eprintln!(
        "sandbox: running: backup-orchestrator-ctl --ssh-config {} --yes h1",
        config.display()
    );
    let status = Command::new(controller_binary())
        .arg("--ssh-config")
        .arg(&config)
        .arg("--yes")
        .args(std::env::args_os().skip(1))
        .arg("h1")
        .status();
    // Dropping `hosts` tears the sandbox down; the controller's exit code is the verdict.
    drop(hosts);
    match status {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(err) => {
            eprintln!("sandbox: could not start backup-orchestrator-ctl: {err}");
            ExitCode::from(3)
        }
    }
}
