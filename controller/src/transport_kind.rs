//! [`Transport`]: which SSH client reaches a host, as `--transport` and an inventory's
//! `transport = "native" | "openssh"` spell it. Its own file, below the command line, the hints
//! and the connectors that all name it.

/// How to reach the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The built-in SSH client (russh), which refuses what it cannot honour in the config.
    #[default]
    Native,
    /// The system `ssh`, with everything OpenSSH supports.
    Openssh,
}
