//! `cancel [--stop-units]`: tell the running run to start no more units (SIGUSR1), and with
//! `--stop-units` to stop the running ones too (SIGUSR2). Nothing running: exit 3.

use std::io::Write;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{NOTHING_TO_CANCEL, PipeState, cancelled_json, cancelled_text};

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::identity::hostname;
use crate::runs::host::Host;

pub async fn cancel(global: &GlobalArgs, stop_units: bool) -> Result<i32, CliError> {
    let host = Host::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let Some(active) = host
        .cancel(stop_units)
        .await
        .map_err(|e| CliError::could_not_run(&e))?
    else {
        return Err(CliError::CouldNotRun(NOTHING_TO_CANCEL.into()));
    };
    let run_id = active.run_id.clone().unwrap_or_default();
    let text = if global.json {
        cancelled_json(&hostname(), &run_id, stop_units)
    } else if global.quiet {
        String::new()
    } else {
        cancelled_text(&hostname(), &run_id, stop_units)
    };
    PipeState::default()
        .write(|| std::io::stdout().lock().write_all(text.as_bytes()))
        .map_err(CliError::output)?;
    Ok(exit_codes::SUCCESS)
}
