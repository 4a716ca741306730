//! [`CliError`]: every way a command ends other than with its run's verdict, and its exit code.
//!
//! Broken pipes: a command whose stdout closes (`backup-orchestrator status | head -1`) ends
//! quietly with 130, like an interruption ([`CliError::output`]); nothing is printed, there is no
//! one left to read it.

use std::error::Error;
use std::io;

use backup_orchestrator_proto::exit_codes;

use crate::error_chain::error_chain;
use crate::plan::PlanError;

/// Every way a command ends other than with its run's verdict, and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The plan file is missing or malformed (64); nothing was started.
    #[error("{}", error_chain(.0))]
    Plan(#[from] PlanError),
    /// Bad usage or configuration (64).
    #[error("{0}")]
    Usage(String),
    /// The run could not happen or be followed on this host (3).
    #[error("{0}")]
    CouldNotRun(String),
    /// Ctrl-C, or the prompt declined (130); the message was already shown.
    #[error("interrupted")]
    Interrupted,
    /// Our stdout went away (broken pipe): end quietly (130, like an interruption).
    #[error("output closed")]
    OutputClosed,
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Plan(_) | CliError::Usage(_) => exit_codes::USAGE,
            CliError::CouldNotRun(_) => exit_codes::COULD_NOT_RUN,
            CliError::Interrupted | CliError::OutputClosed => exit_codes::INTERRUPTED,
        }
    }

    /// A failure with its whole chain of causes in the message.
    pub fn could_not_run(e: &(dyn Error + 'static)) -> CliError {
        CliError::CouldNotRun(error_chain(e))
    }

    /// A rendering error: a closed stdout ends quietly, anything else is reported.
    pub fn output(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::OutputClosed
        } else {
            CliError::CouldNotRun(format!("write the output: {e}"))
        }
    }

    /// Whether `main` should print the error (the others were shown already or must stay quiet).
    pub fn needs_report(&self) -> bool {
        !matches!(self, CliError::Interrupted | CliError::OutputClosed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 64);
        assert_eq!(CliError::CouldNotRun("x".into()).exit_code(), 3);
        assert_eq!(CliError::Interrupted.exit_code(), 130);
        assert_eq!(
            CliError::output(io::Error::from(io::ErrorKind::BrokenPipe)).exit_code(),
            130
        );
    }
}
