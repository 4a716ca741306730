//! [`CliError`]: every way a command ends other than with its run's verdict, and its exit code.
//!
//! Broken pipes are not errors: a closed stdout ends the output, not the work, and the command
//! exits with the code the work earned (the render crate's `PipeState` documents the policy both
//! binaries share). Any other write error is [`CliError::output`].

use std::error::Error;
use std::io;

use backup_orchestrator_proto::exit_codes;

use crate::plan::PlanError;
use backup_orchestrator_render::error_chain;

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
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Plan(_) | CliError::Usage(_) => exit_codes::USAGE,
            CliError::CouldNotRun(_) => exit_codes::COULD_NOT_RUN,
            CliError::Interrupted => exit_codes::INTERRUPTED,
        }
    }

    /// A failure with its whole chain of causes in the message.
    pub fn could_not_run(e: &(dyn Error + 'static)) -> CliError {
        CliError::CouldNotRun(error_chain(e))
    }

    /// A write to our output failed for another reason than a closed pipe.
    pub fn output(e: io::Error) -> CliError {
        CliError::CouldNotRun(format!("write the output: {e}"))
    }

    /// Whether `main` should print the error (the others were shown already or must stay quiet).
    pub fn needs_report(&self) -> bool {
        !matches!(self, CliError::Interrupted)
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
        assert_eq!(CliError::output(io::Error::other("disk")).exit_code(), 3);
    }
}
