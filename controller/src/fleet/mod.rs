//! Following hosts' runs at once, and showing them: [`run`]. A single `HOST` is a fleet of one.
//!
//! ```text
//!  HostJob ─▶ task: connect ─▶ Hello ─▶ Run/Attach ─▶ follow (reconnect) ──┐ HostFeed
//!  HostJob ─▶ task: …                                                     ├──────────▶ display task
//!  HostJob ─▶ task: …                                                     ┘ (channel)  owns the Reporter,
//!                                                                                      collects each
//!                                                                                      host's exit code
//! ```
//!
//! Each host's task ends by sending its summary or its error; the display passes every message to
//! the [`Reporter`] as it comes, so one slow host never holds up another's lines. The tasks run on
//! this thread (a `LocalSet`): the controller waits on the network, not the CPU. Dropping the
//! future returned by [`run`] (Ctrl-C) drops every task, and with them their SSH sessions; the
//! runs go on on their hosts.

mod display;
mod host;

use backup_orchestrator_render::Reporter;
use tokio::sync::mpsc;
use tokio::task::{JoinSet, LocalSet};

use crate::error::CtlError;
use crate::feed::HostFeed;
use crate::reconnect::Connect;

pub use host::HostJob;

/// Follows every job's host to its end, showing them through `reporter` (which the display task
/// owns, and drops at the end or on Ctrl-C: bars are cleared before anything else is printed);
/// returns each host's exit code, in the order of `jobs`. `Err` only when our own output failed.
pub async fn run<C: Connect + 'static>(
    jobs: Vec<HostJob<C>>,
    reporter: Box<dyn Reporter>,
) -> Result<Vec<i32>, CtlError> {
    let hosts: Vec<String> = jobs.iter().map(|job| job.host().to_owned()).collect();
    let (sender, receiver) = mpsc::unbounded_channel();
    let local = LocalSet::new();
    local
        .run_until(async move {
            let mut tasks = JoinSet::new();
            for job in jobs {
                let feed = HostFeed::new(job.host(), sender.clone());
                tasks.spawn_local(job.follow(feed));
            }
            // The display ends when every task has dropped its feed.
            drop(sender);
            display::show(receiver, reporter, &hosts).await
        })
        .await
}

#[cfg(test)]
mod tests;
