//! The display task: [`show`] turns the hosts' messages into calls on the one [`Reporter`], and
//! collects each host's exit code.

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{HostFailure, Reporter};
use tokio::sync::mpsc;

use crate::error::CtlError;
use crate::feed::HostMessage;

/// Shows messages until every host's task is gone; returns the hosts' exit codes in `hosts` order.
/// A host whose task ended without a word (it cannot, short of a panic) counts as could-not-run.
pub async fn show(
    mut receiver: mpsc::UnboundedReceiver<HostMessage>,
    mut reporter: Box<dyn Reporter>,
    hosts: &[String],
) -> Result<Vec<i32>, CtlError> {
    let mut codes = vec![exit_codes::COULD_NOT_RUN; hosts.len()];
    let mut settle = |host: &str, code: i32| {
        if let Some(pos) = hosts.iter().position(|h| h == host) {
            codes[pos] = code;
        }
    };
    while let Some(message) = receiver.recv().await {
        let shown = match &message {
            HostMessage::Event { host, envelope } => reporter.event(host, envelope),
            HostMessage::Message { host, level, text } => reporter.message(host, *level, text),
            HostMessage::Finished { host, summary } => {
                settle(host, summary.exit_code);
                reporter.finish(host, summary)
            }
            HostMessage::Failed { host, error } => {
                let exit_code = error.exit_code();
                settle(host, exit_code);
                reporter.failed(host, &HostFailure { exit_code, error })
            }
        };
        shown.map_err(CtlError::Output)?;
    }
    reporter.done().map_err(CtlError::Output)?;
    Ok(codes)
}
