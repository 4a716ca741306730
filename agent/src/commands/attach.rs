//! `attach [RUN_ID]`: replay a run from its start and follow it live; exit with its exit code.

use super::error::CliError;
use super::follow;
use super::output::renderer;
use crate::cli::GlobalArgs;
use crate::runs::host::Host;

pub async fn attach(global: &GlobalArgs, requested: Option<&str>) -> Result<i32, CliError> {
    if let Some(id) = requested
        && !crate::runlog::is_run_id(id)
    {
        return Err(CliError::Usage(format!(
            "{id:?} is not a run id (they look like 20251103T120000Z-ab12; see `backup-orchestrator status`)"
        )));
    }
    let host = Host::connect()
        .await
        .map_err(|e| CliError::could_not_run(&e))?;
    let run_id =
        host.resolve(requested)
            .await
            .map_err(|e| CliError::could_not_run(&e))?
            .ok_or_else(|| {
                CliError::CouldNotRun(match requested {
                    Some(id) => format!("no run {id} on this host"),
                    None => "no backup run on this host yet: start one with `backup-orchestrator`"
                        .into(),
                })
            })?;
    let follower = host
        .follow(&run_id)
        .map_err(|e| CliError::could_not_run(&e))?;
    follow::render_run(follower, &mut renderer(global)).await
}
