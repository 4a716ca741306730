//! Why the native transport got no session: [`ConnectError`] (with [`AuthError`] and the
//! [`Stage`] that timed out). Their own file so `connect`, `auth` and `exec` fail with them
//! without depending on each other.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::known_hosts::HostKeyError;

/// Which step of connecting ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Tcp,
    Handshake,
    Auth,
    Tunnel,
    Exec,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Tcp => "TCP connect",
            Stage::Handshake => "SSH handshake",
            Stage::Auth => "authentication",
            Stage::Tunnel => "ProxyJump tunnel",
            Stage::Exec => "starting the agent",
        })
    }
}

/// Could not get an authenticated session (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("failed to connect to {address}")]
    Tcp {
        address: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{address} did not answer within {secs} s ({stage}); is the host up and reachable? \
         (--connect-timeout sets the limit)"
    )]
    Timeout {
        address: String,
        stage: Stage,
        secs: u64,
    },
    #[error("the SSH handshake with {address} failed")]
    Handshake {
        address: String,
        #[source]
        source: Box<russh::Error>,
    },
    #[error(transparent)]
    HostKey(Box<HostKeyError>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("failed to open a ProxyJump tunnel through {via} to {address}")]
    Tunnel {
        via: String,
        address: String,
        #[source]
        source: Box<russh::Error>,
    },
    #[error("failed to start `{command}` on {address}")]
    Exec {
        address: String,
        command: String,
        #[source]
        source: Box<russh::Error>,
    },
}

impl ConnectError {
    /// Worth trying again later (the network, the host being down), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectError::Tcp { .. }
            | ConnectError::Timeout { .. }
            | ConnectError::Handshake { .. }
            | ConnectError::Tunnel { .. }
            | ConnectError::Exec { .. } => true,
            ConnectError::HostKey(_) => false,
            ConnectError::Auth(e) => e.is_transient(),
        }
    }
}

/// Authentication failed (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "{address}: permission denied (publickey); tried {}. Pass -i KEY, load the key into \
         ssh-agent, or check ~{user}/.ssh/authorized_keys on the host",
        tried_text(tried)
    )]
    Denied {
        address: String,
        user: String,
        tried: Vec<String>,
    },
    #[error(
        "{address}: the server accepts none of the methods this tool uses (publickey); it offers: {offered}"
    )]
    NoPublicKey { address: String, offered: String },
    #[error(
        "{address}: permission denied; the identity file {} is encrypted and stdin is not a \
         terminal to ask for its passphrase: add it to ssh-agent (`ssh-add {}`) or run on a terminal",
        path.display(),
        path.display()
    )]
    EncryptedNoTerminal { address: String, path: PathBuf },
    #[error("failed to read the passphrase of {}", path.display())]
    Prompt {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("authentication with {address} failed")]
    Ssh {
        address: String,
        #[source]
        source: Box<russh::Error>,
    },
}

impl AuthError {
    /// Only a broken connection during authentication is worth retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Ssh { .. })
    }
}

fn tried_text(tried: &[String]) -> String {
    if tried.is_empty() {
        "no keys (no ssh-agent, no identity file found)".to_owned()
    } else {
        tried.join(", ")
    }
}
