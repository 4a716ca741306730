//! `debug-render` (hidden): drives the renderer with the canned demo run, so the display can be
//! looked at and tested without a host. Paced in bars mode so the bars move.

use std::time::Duration;

use backup_orchestrator_proto::{Event, exit_codes};
use backup_orchestrator_render::{PipeState, demo_events};

use super::error::CliError;
use super::output::renderer;
use crate::cli::GlobalArgs;

pub async fn debug_render(global: &GlobalArgs) -> Result<i32, CliError> {
    let mut renderer = renderer(global);
    let paced =
        !global.json && !global.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_ms = 0;
    let mut pipe = PipeState::default();
    for envelope in demo_events() {
        if paced {
            let step = envelope.elapsed_ms.saturating_sub(last_ms) / 50;
            tokio::time::sleep(Duration::from_millis(step.min(300))).await;
        }
        last_ms = envelope.elapsed_ms;
        pipe.write(|| renderer.event(&envelope))
            .map_err(CliError::output)?;
        if let Event::RunFinished(finished) = &envelope.event {
            pipe.write(|| renderer.finish(&finished.summary))
                .map_err(CliError::output)?;
        }
    }
    Ok(exit_codes::SUCCESS)
}
