//! From the command line's `TARGET…` to the hosts to work on: [`Targets::resolve`].
//!
//! Everything here happens before any connection, so a mistake (an unknown `@GROUP`, a malformed
//! inventory, an ssh_config that does not parse) is a usage error (64) with nothing contacted.

use std::time::Duration;

use crate::cli::GlobalOptions;
use crate::error::CtlError;
use crate::hints::{Hints, ctl_command};
use crate::inventory::Inventory;
use crate::ssh::SshConnector;
use crate::ssh::config::{self, Environment, Overrides};

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
    pub connector: SshConnector,
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
                Resolved::new(host, &host_options)
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
    fn new(host: &str, options: &GlobalOptions) -> Result<Resolved, CtlError> {
        let overrides = Overrides {
            config_file: options.ssh_config.clone(),
            user: options.user.clone(),
            port: options.port,
            identity_files: options.identity.clone(),
            connect_timeout: options.connect_timeout.map(Duration::from_secs),
            accept_new_host_key: options.accept_new_host_key,
        };
        let target = config::resolve(host, &overrides, &Environment::from_process())?;
        tracing::debug!(?target, "resolved");
        Ok(Resolved {
            hints: Hints::new(options, host, &target.label),
            connector: SshConnector::new(target, &options.agent_path),
        })
    }
}
