//! `cancel [--stop-units]`: tell the running run to start no more units (SIGUSR1), and with
//! `--stop-units` to stop the running ones too (SIGUSR2). Nothing running: exit 3.

use backup_orchestrator_proto::exit_codes;

use super::error::CliError;
use crate::cli::GlobalArgs;
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
        return Err(CliError::CouldNotRun(
            "no backup run in progress on this host: nothing to cancel".into(),
        ));
    };
    let run_id = active.run_id.clone().unwrap_or_default();
    if global.json {
        let json =
            serde_json::json!({ "cancelled": true, "run_id": run_id, "stop_units": stop_units });
        println!("{json}");
    } else if !global.quiet {
        let what = if stop_units {
            "no more units will start and the running ones are being stopped"
        } else {
            "no more units will start; the running ones finish (--stop-units stops them)"
        };
        println!(
            "cancel requested for {}: {what}; follow it with: backup-orchestrator attach",
            active.describe()
        );
    }
    Ok(exit_codes::SUCCESS)
}
