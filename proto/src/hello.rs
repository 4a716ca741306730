//! The first frame each way: [`Hello`], and the version check that turns a mismatch into an
//! actionable message instead of a decode error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Sent at the start of every `Hello`. A peer that is not a backup-orchestrator (a shell's MOTD, a
/// wrapper script) is recognised here, before anything else is trusted.
pub const MAGIC: &str = "backup-orchestrator/wire";

/// The protocol spoken by this build.
///
/// Changelog:
/// - 1.0: first release. Requests run/attach/status/cancel; events for preflight, stages, units,
///   log lines and the run summary.
/// - 1.1: event `LogIncomplete` (events the agent could not write to its log: a full disk);
///   requests `logs` (a planned unit's last invocation's journal, [`crate::request::UnitLogs`])
///   and `history` (the kept runs, [`crate::request::RunHistory`]), refusal kind `not_in_plan`;
///   `UnitFinished.journal` and the summary's `units[].journal` (a failed unit's last journal
///   lines). Capabilities `logs`, `history`.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion { major: 1, minor: 1 };

/// Capabilities this build offers; a peer uses one only when the other side listed it.
pub const CAPABILITIES: &[&str] = &[
    "run",
    "attach",
    "status",
    "cancel",
    "stop-units",
    "logs",
    "history",
];

/// Major: incompatible changes. Minor: additions an older peer survives (see the crate's policy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProtocolVersion {
    pub major: u16,
    pub minor: u16,
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Which side of the session sent a [`Hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Controller,
    Agent,
    #[serde(other)]
    Unknown,
}

impl Role {
    fn binary(self) -> &'static str {
        match self {
            Role::Controller => "backup-orchestrator-ctl",
            Role::Agent => "the backup-orchestrator agent",
            Role::Unknown => "the peer",
        }
    }
}

/// The first frame in each direction. Every field has a default so that whatever a future major
/// version sends still decodes far enough to be refused politely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    #[serde(default)]
    pub magic: String,
    #[serde(default)]
    pub protocol: ProtocolVersion,
    /// `backup-orchestrator 0.1.0`-style name and version of the sending binary, for messages.
    #[serde(default)]
    pub software: String,
    #[serde(default = "unknown_role")]
    pub role: Role,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

fn unknown_role() -> Role {
    Role::Unknown
}

impl Hello {
    /// The Hello this build sends as `role`; `software` is e.g. `backup-orchestrator 0.1.0`.
    pub fn new(role: Role, software: impl Into<String>) -> Self {
        Hello {
            magic: MAGIC.to_owned(),
            protocol: PROTOCOL_VERSION,
            software: software.into(),
            role,
            capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// Whether the peer offered `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Checks the peer's Hello (`self`) against ours. Minor differences are fine: capabilities say
    /// what each side may use.
    pub fn check_compatible(&self, ours: &Hello) -> Result<(), Incompatibility> {
        if self.magic != MAGIC {
            return Err(Incompatibility::NotAnOrchestrator {
                magic: self.magic.clone(),
            });
        }
        if self.protocol.major != ours.protocol.major {
            return Err(Incompatibility::MajorMismatch {
                ours: ours.protocol,
                ours_software: ours.software.clone(),
                theirs: self.protocol,
                theirs_software: self.software.clone(),
                theirs_role: self.role,
            });
        }
        Ok(())
    }
}

/// Why a peer's [`Hello`] was refused. The message names both versions and the side to upgrade.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Incompatibility {
    #[error(
        "the peer is not a backup-orchestrator (its first frame carried magic {magic:?}); check the agent path"
    )]
    NotAnOrchestrator { magic: String },
    #[error("{}", major_mismatch_message(*ours, ours_software, *theirs, theirs_software, *theirs_role))]
    MajorMismatch {
        ours: ProtocolVersion,
        ours_software: String,
        theirs: ProtocolVersion,
        theirs_software: String,
        theirs_role: Role,
    },
}

fn major_mismatch_message(
    ours: ProtocolVersion,
    ours_software: &str,
    theirs: ProtocolVersion,
    theirs_software: &str,
    theirs_role: Role,
) -> String {
    let (older, newer) = if theirs < ours {
        (theirs_role.binary(), "this side")
    } else {
        ("this side", theirs_role.binary())
    };
    format!(
        "{} speaks protocol {theirs} ({theirs_software}), this side speaks protocol {ours} \
         ({ours_software}): upgrade {older} to match {newer}",
        theirs_role.binary(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_check_accepts_a_newer_minor() {
        let ours = Hello::new(Role::Controller, "backup-orchestrator-ctl 0.1.0");
        let mut theirs = Hello::new(Role::Agent, "backup-orchestrator 0.2.0");
        theirs.protocol.minor += 3;
        assert_eq!(theirs.check_compatible(&ours), Ok(()));
    }

    #[test]
    fn hello_check_names_both_versions_and_the_side_to_upgrade_when_major_differs() {
        let ours = Hello::new(Role::Controller, "backup-orchestrator-ctl 0.1.0");
        let mut theirs = Hello::new(Role::Agent, "backup-orchestrator 2.0.0");
        theirs.protocol = ProtocolVersion { major: 2, minor: 0 };
        let message = theirs.check_compatible(&ours).unwrap_err().to_string();
        assert!(
            message.contains("protocol 2.0 (backup-orchestrator 2.0.0)"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "protocol {PROTOCOL_VERSION} (backup-orchestrator-ctl 0.1.0)"
            )),
            "{message}"
        );
        assert!(
            message.ends_with("upgrade this side to match the backup-orchestrator agent"),
            "{message}"
        );

        theirs.protocol.major = 0;
        let message = theirs.check_compatible(&ours).unwrap_err().to_string();
        assert!(
            message.contains("upgrade the backup-orchestrator agent to match this side"),
            "{message}"
        );
    }

    #[test]
    fn hello_check_refuses_a_wrong_magic() {
        let ours = Hello::new(Role::Agent, "backup-orchestrator 0.1.0");
        let mut theirs = Hello::new(Role::Controller, "x");
        theirs.magic = "something-else".into();
        assert!(matches!(
            theirs.check_compatible(&ours),
            Err(Incompatibility::NotAnOrchestrator { .. })
        ));
    }
}
