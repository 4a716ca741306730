//! The commands to show a user who has to follow a run by hand: [`Hints`], built by
//! [`ctl_command`] with the connection flags the user gave, so they can be pasted as they are.

use crate::cli::GlobalOptions;
use crate::ssh::exec::shell_quote;
use crate::transport_kind::Transport;

/// Commands to show the user when the run has to be followed by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hints {
    pub host: String,
    pub attach: String,
    pub status: String,
}

impl Hints {
    /// The hints for `host` (as the user named it), shown under `label`.
    pub fn new(options: &GlobalOptions, host: &str, label: &str) -> Hints {
        Hints {
            host: label.to_owned(),
            attach: ctl_command(options, "attach", &[host]),
            status: ctl_command(options, "status", &[host]),
        }
    }
}

/// `backup-orchestrator-ctl [the connection flags given] SUBCOMMAND TARGET…`, shell-quoted, for
/// hints.
pub fn ctl_command(options: &GlobalOptions, subcommand: &str, targets: &[&str]) -> String {
    let mut words: Vec<String> = vec!["backup-orchestrator-ctl".into()];
    if options.transport == Some(Transport::Openssh) {
        words.push("--transport".into());
        words.push("openssh".into());
    }
    if let Some(path) = &options.ssh_config {
        words.push("--ssh-config".into());
        words.push(shell_quote(&path.to_string_lossy()));
    }
    if let Some(user) = &options.user {
        words.push("-l".into());
        words.push(shell_quote(user));
    }
    if let Some(port) = options.port {
        words.push("-p".into());
        words.push(port.to_string());
    }
    for identity in &options.identity {
        words.push("-i".into());
        words.push(shell_quote(&identity.to_string_lossy()));
    }
    // The same host means the same route and settings: -J and -o go along.
    if let Some(jump) = &options.jump {
        words.push("-J".into());
        words.push(shell_quote(jump));
    }
    for option in &options.ssh_option {
        words.push("-o".into());
        words.push(shell_quote(option));
    }
    if let Some(path) = &options.inventory {
        words.push("--inventory".into());
        words.push(shell_quote(&path.to_string_lossy()));
    }
    if options.agent_path != "backup-orchestrator" {
        words.push("--agent-path".into());
        words.push(shell_quote(&options.agent_path));
    }
    words.push(subcommand.into());
    words.extend(targets.iter().map(|target| shell_quote(target)));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_repeat_the_connection_flags_given() {
        let options = GlobalOptions {
            ssh_config: Some("/run/bo testhosts/ctl/ssh_config".into()),
            user: Some("deploy".into()),
            agent_path: "/opt/agent".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(
            ctl_command(&options, "attach", &["h1"]),
            "backup-orchestrator-ctl --ssh-config '/run/bo testhosts/ctl/ssh_config' -l deploy --agent-path /opt/agent attach h1"
        );
        let plain = GlobalOptions {
            agent_path: "backup-orchestrator".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(
            ctl_command(&plain, "attach", &["forge"]),
            "backup-orchestrator-ctl attach forge"
        );
        let openssh = GlobalOptions {
            transport: Some(Transport::Openssh),
            agent_path: "backup-orchestrator".into(),
            ..GlobalOptions::default()
        };
        assert_eq!(
            ctl_command(&openssh, "status", &["forge"]),
            "backup-orchestrator-ctl --transport openssh status forge"
        );
    }
}
