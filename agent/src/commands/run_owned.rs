//! `run-owned --run-id ID` (hidden): the run itself, inside its transient unit
//! ([`crate::runs::owned`]); exits with the run's verdict (0, 1, 2), so systemd marks a failed run's
//! unit failed.

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::runs::owned::{OwnedRunError, run_owned as run};

pub async fn run_owned(global: &GlobalArgs, run_id: &str) -> Result<i32, CliError> {
    match run(run_id, global.plan.as_deref(), global.stop_units_on_timeout).await {
        Ok(verdict) => Ok(verdict),
        Err(e @ (OwnedRunError::NotARunId { .. } | OwnedRunError::NotInRunUnit)) => {
            Err(CliError::Usage(e.to_string()))
        }
        Err(OwnedRunError::Plan(e)) => Err(CliError::Plan(e)),
        Err(e) => Err(CliError::could_not_run(&e)),
    }
}
