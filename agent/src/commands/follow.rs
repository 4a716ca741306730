//! Rendering a followed run on this terminal until its `RunFinished`, or until Ctrl-C, which stops
//! only the display: the run goes on, owned by PID 1. A closed stdout ends the display too, but the
//! run is still followed to its verdict (render's [`PipeState`] policy).

use backup_orchestrator_proto::{Event, LogLevel, exit_codes};
use backup_orchestrator_render::{PipeState, Renderer};
use tokio::signal::unix::{SignalKind, signal};

use super::error::CliError;
use crate::runlog::{Follower, Liveness, LogFollowError};

/// Shows every event of the run and returns its exit code.
pub async fn render_run<L: Liveness>(
    mut follower: Follower<L>,
    renderer: &mut Renderer,
) -> Result<i32, CliError> {
    let mut pipe = PipeState::default();
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| CliError::CouldNotRun(format!("handle Ctrl-C: {e}")))?;
    loop {
        let next = tokio::select! {
            next = follower.next() => next,
            _ = interrupt.recv() => {
                let text = format!(
                    "interrupted: run {} goes on on this host; attach with: backup-orchestrator attach",
                    follower.run_id()
                );
                pipe.write(|| renderer.message(LogLevel::Warn, &text))
                    .map_err(CliError::output)?;
                return Err(CliError::Interrupted);
            }
        };
        match next {
            Ok(Some(envelope)) => {
                pipe.write(|| renderer.event(&envelope))
                    .map_err(CliError::output)?;
                if let Event::RunFinished(finished) = &envelope.event {
                    pipe.write(|| renderer.finish(&finished.summary))
                        .map_err(CliError::output)?;
                    return Ok(finished.summary.exit_code);
                }
            }
            Ok(None) => {
                return Err(CliError::CouldNotRun(format!(
                    "run {}: its log ended without a summary",
                    follower.run_id()
                )));
            }
            Err(e @ LogFollowError::Abandoned { .. }) => {
                pipe.write(|| renderer.message(LogLevel::Error, &e.to_string()))
                    .map_err(CliError::output)?;
                return Ok(exit_codes::COULD_NOT_RUN);
            }
            Err(e) => return Err(CliError::could_not_run(&e)),
        }
    }
}
