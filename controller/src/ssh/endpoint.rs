//! What the transports connect to, once resolved: a [`Target`] (the host and its ProxyJump hops),
//! each an [`Endpoint`] with its keys, known_hosts files and [`HostKeyPolicy`]. Its own file so
//! `connect`, `auth` and `known_hosts` share these without depending on the resolver in `config`.

use std::path::PathBuf;
use std::time::Duration;

use super::algorithms::Lists;

/// What `StrictHostKeyChecking` (or `--accept-new-host-key`) allows for a key not yet known.
/// A changed key is refused under every policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys (`yes`, `ask`, and the default: no prompt here).
    Strict,
    /// Add the key of a host with no known key at all to the user's known_hosts file
    /// (`accept-new`, `no`, `--accept-new-host-key`).
    AcceptNew,
}

/// Which ssh-agent to ask (`IdentityAgent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentSocket {
    /// `$SSH_AUTH_SOCK` (the default, and `IdentityAgent SSH_AUTH_SOCK`).
    FromEnvironment,
    /// `IdentityAgent none`.
    Disabled,
    Path(PathBuf),
}

/// One SSH server to connect to: the target, or a ProxyJump hop in front of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// What the user (or the config's ProxyJump) called it, for messages.
    pub alias: String,
    /// The name or address actually connected to (HostName, lowercased), also the known_hosts key.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Private keys to try, in order (missing ones are skipped).
    pub identity_files: Vec<PathBuf>,
    /// Whether the identity files were named explicitly (`-i` or `IdentityFile`).
    pub explicit_identities: bool,
    /// `IdentitiesOnly yes`: with explicit identity files, the agent is not asked.
    pub identities_only: bool,
    pub agent: AgentSocket,
    /// `UserKnownHostsFile`: checked, and the first one receives accepted new keys.
    pub user_known_hosts: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`: checked only.
    pub global_known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// `HashKnownHosts yes`: a recorded key is listed under a hashed name.
    pub hash_known_hosts: bool,
    /// `BatchMode yes`: never ask for a passphrase.
    pub batch_mode: bool,
    /// Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms.
    pub algorithms: Lists,
}

impl Endpoint {
    /// Whether the agent may offer its keys here.
    pub fn use_agent(&self) -> bool {
        !(self.identities_only && self.explicit_identities) && self.agent != AgentSocket::Disabled
    }

    /// `user@host:port` as connected to.
    pub fn address(&self) -> String {
        format!("{}@{}", self.user, host_port(&self.host, self.port))
    }
}

/// `host:port`, bracketing IPv6 addresses.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Everything needed to reach the agent on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The HOST as typed (without `user@`), for messages and the `attach` hint.
    pub label: String,
    pub endpoint: Endpoint,
    /// Hops to go through first, outermost first.
    pub jumps: Vec<Endpoint>,
    /// Bound on TCP connect + handshake + authentication, for the whole chain.
    pub connect_timeout: Duration,
}
