//! From the command line's `TARGET…` to the hosts to work on: [`Targets::resolve`].
//!
//! Everything here happens before any connection, so a mistake (an unknown `@GROUP`, a malformed
//! inventory, an ssh_config that does not parse) is a usage error (64) with nothing contacted.

use std::time::Duration;

use crate::cli::GlobalOptions;
use crate::connector::HostConnector;
use crate::error::CtlError;
use crate::hints::{Hints, ctl_command};
use crate::inventory::Inventory;
use crate::openssh::{OpensshConnector, SshArgs};
use crate::ssh::SshConnector;
use crate::ssh::config::{self, Environment, Overrides};
use crate::ssh::endpoint::Target;
use crate::transport_kind::Transport;

/// The hosts the targets name, in order, each once, resolved.
#[derive(Debug)]
pub struct Targets {
    pub hosts: Vec<Resolved>,
    /// More than one host or any `@GROUP`: the fleet's outputs (one JSON document, the table).
    pub fleet: bool,
    /// The one command that attaches to every host again, with the targets as given.
    pub attach_all: String,
}

/// A resolved host and the commands to show the user about it.
#[derive(Debug)]
pub struct Resolved {
    pub connector: HostConnector,
    pub hints: Hints,
}

impl Targets {
    pub fn resolve(targets: &[String], options: &GlobalOptions) -> Result<Targets, CtlError> {
        let inventory = Inventory::load(options.inventory.as_deref())?;
        let names = inventory.expand(targets)?;
        let hosts = names
            .iter()
            .map(|host| {
                let mut host_options = options.clone();
                if let (false, Some(path)) =
                    (options.agent_path_given, inventory.host(host).agent_path)
                {
                    host_options.agent_path = path;
                }
                check_agent_path(&host_options.agent_path)?;
                // `--transport` on the command line wins over the inventory's.
                let transport = options
                    .transport
                    .or(inventory.host(host).transport)
                    .unwrap_or_default();
                Resolved::with_transport(host, &host_options, transport)
            })
            .collect::<Result<Vec<_>, CtlError>>()?;
        let given: Vec<&str> = targets.iter().map(String::as_str).collect();
        Ok(Targets {
            fleet: hosts.len() > 1 || targets.iter().any(|t| t.starts_with('@')),
            attach_all: ctl_command(options, "attach", &given),
            hosts,
        })
    }
}

/// An agent path that is empty or looks like an option is not a command.
pub fn check_agent_path(agent_path: &str) -> Result<(), CtlError> {
    if agent_path.is_empty() || agent_path.starts_with('-') {
        return Err(CtlError::Usage {
            message: format!(
                "--agent-path {agent_path:?} is not a command: give the agent's name or absolute path"
            ),
        });
    }
    Ok(())
}

impl Resolved {
    /// `host` over `transport`: the hook for a per-host choice (an inventory's
    /// `transport = "openssh"`, which `--transport` given on the command line overrides).
    fn with_transport(
        host: &str,
        options: &GlobalOptions,
        transport: Transport,
    ) -> Result<Resolved, CtlError> {
        match transport {
            Transport::Native => {
                let target =
                    config::resolve(host, &overrides(options), &Environment::from_process())?;
                tracing::debug!(?target, "resolved");
                Ok(Resolved {
                    hints: Hints::new(options, host, &target.label),
                    connector: HostConnector::Native(SshConnector::new(
                        target,
                        &options.agent_path,
                    )),
                })
            }
            // ssh resolves the config itself: no refusals apply.
            Transport::Openssh => {
                let args = ssh_args(options);
                let label = host.rsplit_once('@').map_or(host, |(_, name)| name);
                let user = OpensshConnector::probe_user(host, &args)
                    .or_else(|| options.user.clone())
                    .unwrap_or_default();
                Ok(Resolved {
                    hints: Hints::new(options, host, label),
                    connector: HostConnector::Openssh(OpensshConnector::new(
                        host,
                        label,
                        &user,
                        args,
                        options.accept_new_host_key,
                        &options.agent_path,
                    )),
                })
            }
        }
    }
}

/// The command line's SSH settings, for the system `ssh`.
fn ssh_args(options: &GlobalOptions) -> SshArgs {
    SshArgs {
        config_file: options.ssh_config.clone(),
        jump: options.jump.clone(),
        options: options.ssh_option.clone(),
        user: options.user.clone(),
        port: options.port,
        identity_files: options.identity.clone(),
        connect_timeout: options
            .connect_timeout
            .map_or(config::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs),
    }
}

/// The command line's SSH settings.
pub fn overrides(options: &GlobalOptions) -> Overrides {
    Overrides {
        config_file: options.ssh_config.clone(),
        user: options.user.clone(),
        port: options.port,
        identity_files: options.identity.clone(),
        connect_timeout: options.connect_timeout.map(Duration::from_secs),
        accept_new_host_key: options.accept_new_host_key,
        jump: options.jump.clone(),
        options: options.ssh_option.clone(),
    }
}

/// One host as ssh_config and the command line resolve it.
pub fn resolve(host: &str, options: &GlobalOptions) -> Result<Target, CtlError> {
    let target = config::resolve(host, &overrides(options), &Environment::from_process())?;
    tracing::debug!(?target, "resolved");
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &std::path::Path) -> GlobalOptions {
        let config = dir.join("ssh_config");
        std::fs::write(&config, "Host h1 h2 h3\n    User deploy\n").unwrap();
        let inventory = dir.join("hosts.toml");
        std::fs::write(
            &inventory,
            "[groups]\nlab = [\"h1\", \"h2\"]\n\n[hosts.h2]\nagent_path = \"/opt/agent\"\n",
        )
        .unwrap();
        GlobalOptions {
            ssh_config: Some(config),
            inventory: Some(inventory),
            agent_path: "backup-orchestrator".into(),
            parallel: 10,
            ..GlobalOptions::default()
        }
    }

    fn names(targets: &Targets) -> Vec<&str> {
        targets
            .hosts
            .iter()
            .map(|t| t.hints.host.as_str())
            .collect()
    }

    #[test]
    fn targets_expand_groups_and_say_how_to_attach_to_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let options = options(dir.path());
        let given = ["h3".to_owned(), "@lab".to_owned(), "h1".to_owned()];
        let targets = Targets::resolve(&given, &options).unwrap();
        assert_eq!(names(&targets), ["h3", "h1", "h2"]);
        assert!(targets.fleet);
        assert!(
            targets.attach_all.ends_with(" attach h3 @lab h1"),
            "{}",
            targets.attach_all
        );
        assert!(
            targets.attach_all.contains("--inventory"),
            "{}",
            targets.attach_all
        );
        // The inventory's agent_path, unless --agent-path was given.
        assert!(
            targets.hosts[2]
                .hints
                .attach
                .contains("--agent-path /opt/agent")
        );
        let given_path = GlobalOptions {
            agent_path: "/usr/bin/agent".into(),
            agent_path_given: true,
            ..options.clone()
        };
        let targets = Targets::resolve(&given, &given_path).unwrap();
        assert!(
            targets.hosts[2]
                .hints
                .attach
                .contains("--agent-path /usr/bin/agent")
        );

        let one = Targets::resolve(&["h1".to_owned()], &options).unwrap();
        assert!(!one.fleet);
    }

    #[test]
    fn targets_with_an_unknown_group_are_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = Targets::resolve(&["@nope".to_owned()], &options(dir.path())).unwrap_err();
        assert_eq!(error.exit_code(), 64);
    }
}
