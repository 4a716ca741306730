//! `serve`: the controller's session ([`crate::runs::session`]) on stdin/stdout, with this host's
//! runs as its source ([`HostRuns`]).

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::runs::host_source::HostRuns;
use crate::runs::session::{HELLO_TIMEOUT, SessionEnd, serve as session};
use backup_orchestrator_render::error_chain;

pub async fn serve(global: &GlobalArgs) -> Result<i32, CliError> {
    let mut runs = HostRuns::new(global.plan.clone());
    let end = session(tokio::io::stdin(), tokio::io::stdout(), &mut runs).await;
    match &end {
        SessionEnd::Done | SessionEnd::PeerGone => {}
        SessionEnd::Incompatible(e) => eprintln!("backup-orchestrator serve: {e}"),
        SessionEnd::NoHello => eprintln!(
            "backup-orchestrator serve: no Hello from a controller within {}s: this command is \
             the agent's side of backup-orchestrator-ctl (over SSH), not for a terminal; exiting",
            HELLO_TIMEOUT.as_secs()
        ),
        SessionEnd::Protocol(e) => {
            eprintln!(
                "backup-orchestrator serve: not a controller session: {}",
                error_chain(e)
            );
        }
    }
    Ok(end.exit_code())
}
