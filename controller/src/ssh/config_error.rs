//! Why a host could not be resolved: [`ConfigError`]. Its own file so the steps below
//! `config` (ProxyJump parsing) can fail with it without reaching up into `config`.

use super::expand::ExpandError;
use super::refuse::{Refusal, refusal_text};
use super::sshconf::{Origin, ReadError};

/// ProxyJump chains deeper than this are taken for a loop in the config.
pub const MAX_JUMP_DEPTH: usize = 8;

/// Why the HOST or the SSH config could not be turned into a target.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{origin}: bad {keyword} value {value:?}")]
    BadValue {
        origin: Origin,
        keyword: String,
        value: String,
    },
    #[error("{origin}: bad {keyword}")]
    Expand {
        origin: Origin,
        keyword: String,
        #[source]
        source: ExpandError,
    },
    #[error("{}", refusal_text(host, refusals))]
    Refused {
        host: String,
        refusals: Vec<Refusal>,
    },
    #[error("no user to log in as for {host}: pass -l USER or set User in the SSH config")]
    NoUser { host: String },
    #[error("the host name is empty")]
    EmptyHost,
    #[error("invalid port in {spec:?}")]
    BadPort { spec: String },
    #[error(
        "ProxyJump for {host} goes more than {MAX_JUMP_DEPTH} hops deep (a loop in the config?)"
    )]
    JumpLoop { host: String },
    #[error("no home directory to find ~/.ssh in; pass --ssh-config FILE")]
    NoHome,
}

impl ConfigError {
    /// A refusal is "could not run on the host" (exit 3); the rest are configuration errors (64).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ConfigError::Refused { .. })
    }
}
