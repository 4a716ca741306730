//! `status`: the running or last run: state, id, start, units done/total, running units
//! (`--json`: the `StatusReport` as JSON, the finished run's summary included). Exit 0 whenever
//! the status could be read.

use std::io::Write;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{PipeState, status_json, status_text};

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::identity::hostname;
use crate::runs::host::Host;

pub async fn status(global: &GlobalArgs) -> Result<i32, CliError> {
    let host = Host::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let status = host
        .status()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let report = &status.report;
    let text = if global.json {
        status_json(report)
    } else if global.quiet {
        String::new()
    } else {
        status_text(&hostname(), report, "backup-orchestrator attach")
    };
    // The JSON keeps its schema: the warning goes to stderr in every mode.
    if let Some(incomplete) = &status.log_incomplete {
        tracing::warn!("{incomplete}");
    }
    PipeState::default()
        .write(|| std::io::stdout().lock().write_all(text.as_bytes()))
        .map_err(CliError::output)?;
    Ok(exit_codes::SUCCESS)
}
