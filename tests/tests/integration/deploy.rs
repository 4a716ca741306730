//! `ansible-free-deploy/install-over-ssh` onto a real host that has no agent yet.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use backup_orchestrator_tests::{
    HostSpec, TestHosts, UnitSet, agent_binary, controller_binary, output_with_timeout,
};

use crate::support::{code, show, text};

#[test]
fn install_over_ssh_puts_the_agent_and_a_checked_sudoers_rule_on_a_bare_host() {
    let hosts = TestHosts::up(
        "dp-install",
        HostSpec {
            units: Some(UnitSet::user_plan(0.0)),
            ..HostSpec::new(1)
        },
    );
    let missing = hosts.ssh("h1", "command -v backup-orchestrator");
    assert_ne!(code(&missing), 0, "the bare host already has an agent");

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ansible-free-deploy/install-over-ssh");
    let mut install = Command::new("bash");
    install
        .arg(script)
        .arg("-F")
        .arg(hosts.ssh_config())
        .arg("h1")
        .arg(agent_binary());
    let out = output_with_timeout(&mut install, Duration::from_secs(60)).expect("install in time");
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        text(&out.stdout).contains("installed: backup-orchestrator"),
        "{}",
        show(&out)
    );

    let rule = hosts.ssh_ok("h1", "sudo -n cat /etc/sudoers.d/backup-orchestrator");
    assert_eq!(
        rule,
        "deploy ALL=(root) NOPASSWD: /usr/local/bin/backup-orchestrator serve\n"
    );
    hosts.ssh_ok("h1", "sudo -n visudo -c");

    let mut ctl = Command::new(controller_binary());
    ctl.arg("--ssh-config")
        .arg(hosts.ssh_config())
        .args(["--yes", "--dry-run", "h1"]);
    let out = output_with_timeout(&mut ctl, Duration::from_secs(60)).expect("ctl in time");
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        text(&out.stdout).contains("15 units would be started"),
        "{}",
        show(&out)
    );
}
