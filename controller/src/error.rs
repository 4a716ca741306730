//! [`CtlError`]: every way the controller ends other than a run's own verdict, and its exit code.
//!
//! The layers below return their own errors (the session a `SessionError`, the SSH transport an
//! `OpenError`, the OpenSSH transport an `OpensshError`, the config a `ConfigError`); the application turns them into a `CtlError`, and
//! [`CtlError::exit_code`] is the one match that maps every variant to an exit code: adding one
//! without deciding its exit code does not compile. A host's error is shown by the reporter; an
//! error of the command as a whole by `main`, with its sources (`error_chain`).

use std::io;

use backup_orchestrator_proto::{Refusal, RefusalKind, exit_codes};

use crate::inventory::InventoryError;
use crate::openssh::OpensshError;
use crate::remote::RemoteFailure;
use crate::session::SessionError;
use crate::ssh::OpenError;
use crate::ssh::config_error::ConfigError;
use crate::ssh::connect_error::ConnectError;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// A command line clap accepted but that makes no sense.
    #[error("{message}")]
    Usage { message: String },
    /// The SSH config, or the HOST, could not be resolved.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The inventory is malformed, or a `@GROUP` is not in it.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A real run needs confirmation, and there is no terminal to ask on.
    #[error(
        "not running the backup plan on {host} without confirmation, and stdin is not a terminal \
         to ask on: pass --yes (or --no-confirm)"
    )]
    NoTerminal { host: String },
    /// The user answered no.
    #[error("not confirmed; nothing was started on {host}")]
    NotConfirmed { host: String },
    /// Connection, host key or authentication.
    #[error(transparent)]
    Connect(Box<ConnectError>),
    /// The system `ssh` (`--transport openssh`) could not be run, or failed to connect.
    #[error(transparent)]
    Openssh(Box<OpensshError>),
    /// sudo, the agent missing or incompatible, garbage on the wire.
    #[error(transparent)]
    Remote(Box<RemoteFailure>),
    /// The agent refused the request; its exit code is the refusal's.
    #[error("{host}: {}{}", refusal.message, attach_text(refusal, attach_hint.as_deref()))]
    Refused {
        host: String,
        refusal: Box<Refusal>,
        attach_hint: Option<String>,
    },
    /// The connection ended before the one reply of a status or cancel request.
    #[error("{host}: the connection was lost: {reason}")]
    ConnectionLost { host: String, reason: String },
    /// The connection ended before the run said which run it is: it cannot be resumed by id.
    #[error(
        "{host}: the connection was lost before the run started ({reason}); it may or may not be \
         running. Check with: {status_hint}"
    )]
    LostBeforeStart {
        host: String,
        reason: String,
        status_hint: String,
    },
    /// Reconnecting after a lost connection failed every attempt.
    #[error(
        "{host}: the connection was lost and {attempts} attempts to reconnect failed (last: \
         {last_error}). The run goes on on {host}; follow it with: {attach_hint}"
    )]
    GaveUp {
        host: String,
        attempts: usize,
        last_error: String,
        attach_hint: String,
    },
    /// Ctrl-C. The runs started, if any, go on on their hosts (`hosts`).
    #[error("{}", interrupted_text(hosts, attach_hint.as_deref()))]
    Interrupted {
        hosts: Vec<String>,
        attach_hint: Option<String>,
    },
    /// Writing our own output failed (a broken pipe is not an error: output just stops).
    #[error("failed to write the output")]
    Output(#[source] io::Error),
    #[error("failed to start: {message}")]
    Internal { message: String },
}

impl From<ConnectError> for CtlError {
    fn from(error: ConnectError) -> Self {
        CtlError::Connect(Box::new(error))
    }
}

impl From<RemoteFailure> for CtlError {
    fn from(error: RemoteFailure) -> Self {
        CtlError::Remote(Box::new(error))
    }
}

impl From<SessionError> for CtlError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Lost { host, reason } => CtlError::ConnectionLost { host, reason },
            SessionError::Remote(failure) => CtlError::Remote(failure),
        }
    }
}

impl From<OpensshError> for CtlError {
    fn from(error: OpensshError) -> Self {
        match error {
            OpensshError::Session(error) => error.into(),
            other => CtlError::Openssh(Box::new(other)),
        }
    }
}

impl From<OpenError> for CtlError {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Connect(error) => CtlError::Connect(error),
            OpenError::Session(error) => error.into(),
        }
    }
}

fn attach_text(refusal: &Refusal, attach_hint: Option<&str>) -> String {
    match (refusal.kind, attach_hint) {
        (RefusalKind::RunInProgress, Some(hint)) => {
            let run = refusal
                .run_id
                .as_deref()
                .map(|id| format!(" (run {id})"))
                .unwrap_or_default();
            format!("\nFollow the run in progress{run} with: {hint}")
        }
        _ => String::new(),
    }
}

fn interrupted_text(hosts: &[String], attach_hint: Option<&str>) -> String {
    match (hosts, attach_hint) {
        ([host], Some(hint)) => format!("the run goes on on {host}; follow it with: {hint}"),
        (hosts, Some(hint)) if !hosts.is_empty() => format!(
            "the runs go on on {}; follow them with: {hint}",
            hosts.join(", ")
        ),
        _ => "interrupted".to_owned(),
    }
}

impl CtlError {
    /// The process exit code for this error (see `exit_codes`).
    pub fn exit_code(&self) -> i32 {
        match self {
            // What the native transport refuses in the config: could not run on the host.
            CtlError::Config(e) if e.is_refusal() => exit_codes::COULD_NOT_RUN,
            CtlError::Usage { .. }
            | CtlError::Config(_)
            | CtlError::Inventory(_)
            | CtlError::NoTerminal { .. } => exit_codes::USAGE,
            CtlError::NotConfirmed { .. } | CtlError::Interrupted { .. } => exit_codes::INTERRUPTED,
            CtlError::Connect(_)
            | CtlError::Openssh(_)
            | CtlError::Remote(_)
            | CtlError::ConnectionLost { .. }
            | CtlError::LostBeforeStart { .. }
            | CtlError::GaveUp { .. }
            | CtlError::Output(_)
            | CtlError::Internal { .. } => exit_codes::COULD_NOT_RUN,
            CtlError::Refused { refusal, .. } => {
                if (0..=255).contains(&refusal.exit_code) {
                    refusal.exit_code
                } else {
                    exit_codes::COULD_NOT_RUN
                }
            }
        }
    }

    /// Whether a reconnect attempt that failed this way is worth repeating. A host key problem
    /// or a refused login will not fix itself, and must not be retried blindly.
    pub fn is_transient(&self) -> bool {
        match self {
            CtlError::Connect(e) => e.is_transient(),
            CtlError::Openssh(e) => e.is_transient(),
            CtlError::Remote(failure) => matches!(
                **failure,
                RemoteFailure::NoHello { .. } | RemoteFailure::AgentFailed { .. }
            ),
            CtlError::ConnectionLost { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: RefusalKind, exit_code: i32) -> Refusal {
        Refusal {
            kind,
            message: "a run is already in progress".into(),
            run_id: Some("20251103T020000Z-forge".into()),
            started_at: None,
            exit_code,
        }
    }

    #[test]
    fn error_exit_codes_follow_the_contract() {
        assert_eq!(
            CtlError::Usage {
                message: "x".into()
            }
            .exit_code(),
            64
        );
        assert_eq!(CtlError::NoTerminal { host: "h".into() }.exit_code(), 64);
        assert_eq!(
            CtlError::Interrupted {
                hosts: vec!["h".into()],
                attach_hint: None
            }
            .exit_code(),
            130
        );
        assert_eq!(
            CtlError::Refused {
                host: "h".into(),
                refusal: Box::new(refusal(RefusalKind::PlanInvalid, 64)),
                attach_hint: None
            }
            .exit_code(),
            64
        );
        assert_eq!(
            CtlError::Refused {
                host: "h".into(),
                refusal: Box::new(refusal(RefusalKind::Internal, 9999)),
                attach_hint: None
            }
            .exit_code(),
            3
        );
    }

    #[test]
    fn error_for_a_run_in_progress_says_how_to_attach() {
        let error = CtlError::Refused {
            host: "forge".into(),
            refusal: Box::new(refusal(RefusalKind::RunInProgress, 3)),
            attach_hint: Some("backup-orchestrator-ctl attach forge".into()),
        };
        let message = error.to_string();
        assert_eq!(error.exit_code(), 3);
        assert!(message.contains("run 20251103T020000Z-forge"), "{message}");
        assert!(
            message.ends_with("backup-orchestrator-ctl attach forge"),
            "{message}"
        );
    }

    #[test]
    fn error_for_ctrl_c_says_the_run_goes_on() {
        let error = CtlError::Interrupted {
            hosts: vec!["forge".into()],
            attach_hint: Some("backup-orchestrator-ctl attach forge".into()),
        };
        assert_eq!(
            error.to_string(),
            "the run goes on on forge; follow it with: backup-orchestrator-ctl attach forge"
        );
        let fleet = CtlError::Interrupted {
            hosts: vec!["h1".into(), "h2".into()],
            attach_hint: Some("backup-orchestrator-ctl attach @lab".into()),
        };
        assert_eq!(
            fleet.to_string(),
            "the runs go on on h1, h2; follow them with: backup-orchestrator-ctl attach @lab"
        );
    }
}
