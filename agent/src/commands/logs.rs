//! `logs UNIT [-n N]`: the journal of a planned unit's last invocation, its lines as journald has
//! them (`--json`: the `UnitLogs` answer a controller gets). A unit the plan does not name is
//! refused (64), as for a controller.

use std::io::Write;

use backup_orchestrator_proto::{RefusalKind, exit_codes};

use super::error::CliError;
use super::output::load_plan;
use crate::cli::GlobalArgs;
use crate::runs::logs::unit_logs;
use crate::systemd::SystemdConnection;

pub async fn logs(global: &GlobalArgs, unit: &str, lines: u32) -> Result<i32, CliError> {
    let plan = load_plan(global)?;
    let connection = SystemdConnection::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let logs = unit_logs(&plan, &connection, unit, lines)
        .await
        .map_err(|refused| match refused.kind {
            RefusalKind::NotInPlan => CliError::Usage(refused.message),
            _ => CliError::CouldNotRun(refused.message),
        })?;
    let text = if global.json {
        serde_json::to_string_pretty(&logs).unwrap_or_default() + "\n"
    } else {
        logs.lines.iter().map(|l| format!("{l}\n")).collect()
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(CliError::output)?;
    Ok(exit_codes::SUCCESS)
}
