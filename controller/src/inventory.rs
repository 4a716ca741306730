//! The inventory: [`Inventory`], which names groups of hosts (`@homelab`) and per-host agent
//! settings, read from `hosts.toml`.
//!
//! ```toml
//! [groups]
//! homelab = ["forge", "nas01"]
//! offsite = ["vault"]
//!
//! [hosts.nas01]
//! agent_path = "/usr/local/bin/backup-orchestrator"
//! ```
//!
//! ssh_config stays the one source of connection settings; the inventory only says which hosts
//! a `@GROUP` means and how to start the agent on a host (a flag on the command line wins).
//! Its default place is `hosts.toml` in the user's config dir
//! (`~/.config/backup-orchestrator/hosts.toml` on Linux); a missing default file is an empty
//! inventory, so `ctl forge` needs none, and only a `@GROUP` then fails. Every mistake in it
//! is a usage error found before any connection, with `file:line:column` for a malformed file.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::transport_kind::Transport;

/// The file's name in the user's config dir.
const FILE_NAME: &str = "hosts.toml";

/// Groups and per-host settings; empty when there is no inventory.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Where it was read from (or would have been): named in errors.
    path: Option<PathBuf>,
    file: InventoryFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    hosts: BTreeMap<String, HostSettings>,
}

/// `[hosts.NAME]`: how to start the agent on one host.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostSettings {
    /// The agent's command on the host, as `--agent-path` (which wins over it).
    pub agent_path: Option<String>,
    /// `"native"` or `"openssh"`, as `--transport` (which wins over it).
    pub transport: Option<Transport>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("failed to read the inventory {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unknown group @{group}{}", known_groups(path.as_deref(), known))]
    UnknownGroup {
        group: String,
        path: Option<PathBuf>,
        known: Vec<String>,
    },
}

fn known_groups(path: Option<&Path>, known: &[String]) -> String {
    match path {
        None => " (no inventory: pass --inventory FILE)".to_owned(),
        Some(path) if known.is_empty() => format!(" ({} defines no groups)", path.display()),
        Some(path) => format!(" ({} defines: {})", path.display(), known.join(", ")),
    }
}

impl Inventory {
    /// Reads `explicit` (which must exist), or else the default file if there is one.
    pub fn load(explicit: Option<&Path>) -> Result<Inventory, InventoryError> {
        match explicit {
            Some(path) => Inventory::read(path),
            None => match default_path() {
                Some(path) if path.exists() => Inventory::read(&path),
                _ => Ok(Inventory::default()),
            },
        }
    }

    fn read(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?;
        Inventory::parse(path, &text)
    }

    /// Parses `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let file: InventoryFile = toml::from_str(text).map_err(|error| {
            let (line, column) = line_column(text, error.span().map_or(0, |span| span.start));
            InventoryError::Malformed {
                path: path.to_owned(),
                line,
                column,
                message: error.message().trim_end().to_owned(),
            }
        })?;
        Ok(Inventory {
            path: Some(path.to_owned()),
            file,
        })
    }

    /// The hosts `targets` name, in order, each once at its first place: a `@GROUP` is its
    /// hosts, anything else a host.
    pub fn expand(&self, targets: &[String]) -> Result<Vec<String>, InventoryError> {
        let mut hosts: Vec<String> = Vec::new();
        for target in targets {
            let members = match target.strip_prefix('@') {
                Some(group) => self.file.groups.get(group).cloned().ok_or_else(|| {
                    InventoryError::UnknownGroup {
                        group: group.to_owned(),
                        path: self.path.clone(),
                        known: self.file.groups.keys().cloned().collect(),
                    }
                })?,
                None => vec![target.clone()],
            };
            for host in members {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
        Ok(hosts)
    }

    /// `[hosts.NAME]` of `host`, or nothing set.
    pub fn host(&self, host: &str) -> HostSettings {
        self.file.hosts.get(host).cloned().unwrap_or_default()
    }
}

/// `~/.config/backup-orchestrator/hosts.toml` on Linux.
fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "backup-orchestrator")
        .map(|dirs| dirs.config_dir().join(FILE_NAME))
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |pos| pos + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[groups]
homelab = ["forge", "nas01"]
offsite = ["vault", "forge"]

[hosts.nas01]
agent_path = "/usr/local/bin/backup-orchestrator"
"#;

    fn example() -> Inventory {
        Inventory::parse(Path::new("hosts.toml"), EXAMPLE).unwrap()
    }

    fn targets(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn inventory_expands_groups_in_order_and_runs_a_host_once_at_its_first_place() {
        let hosts = example()
            .expand(&targets(&["nas01", "@offsite", "@homelab", "extra"]))
            .unwrap();
        assert_eq!(hosts, ["nas01", "vault", "forge", "extra"]);
    }

    #[test]
    fn inventory_gives_per_host_agent_settings() {
        let inventory = example();
        assert_eq!(
            inventory.host("nas01").agent_path.as_deref(),
            Some("/usr/local/bin/backup-orchestrator")
        );
        assert_eq!(inventory.host("forge"), HostSettings::default());
    }

    #[test]
    fn inventory_refuses_an_unknown_group_naming_the_known_ones() {
        let error = example().expand(&targets(&["forge", "@nope"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown group @nope (hosts.toml defines: homelab, offsite)"
        );
        let error = Inventory::default()
            .expand(&targets(&["@homelab"]))
            .unwrap_err();
        assert!(error.to_string().contains("--inventory"), "{error}");
    }

    #[test]
    fn inventory_without_groups_still_takes_plain_hosts() {
        let hosts = Inventory::default()
            .expand(&targets(&["forge", "forge"]))
            .unwrap();
        assert_eq!(hosts, ["forge"]);
    }

    #[test]
    fn inventory_malformed_says_file_line_and_column() {
        let text = "[groups]\nhomelab = [\"forge\", 3]\n";
        let error = Inventory::parse(Path::new("/etc/hosts.toml"), text).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("/etc/hosts.toml:2:"), "{message}");

        let unknown = "[hosts.forge]\nagent = \"x\"\n";
        let error = Inventory::parse(Path::new("h.toml"), unknown).unwrap_err();
        assert!(error.to_string().starts_with("h.toml:2:1: "), "{error}");
    }

    #[test]
    fn inventory_line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn inventory_missing_explicit_file_is_an_error() {
        let error = Inventory::load(Some(Path::new("/nonexistent/bo/hosts.toml"))).unwrap_err();
        assert!(matches!(error, InventoryError::Read { .. }), "{error}");
    }
}
