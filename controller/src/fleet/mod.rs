//! Following hosts' runs at once, and showing them: [`run`]. A single `HOST` is a fleet of one.
//!
//! ```text
//!  1. check, at most --parallel at once     2. confirm once     3. run, at most --parallel at once
//!  HostJob ─▶ connect, host key, auth,  ─┐                      ┌─▶ task: Run/Attach ─▶ follow ──┐
//!  HostJob ─▶ sudo, Hello (the session   ├─▶ ready: h1 h2 …  ───┼─▶ task: …                      ├─▶ display task
//!  HostJob ─▶ is kept open)             ─┘   cannot: h3 (why)   └─▶ task: h3's error            ┘   owns the Reporter,
//!                                                                                                   collects exit codes
//! ```
//!
//! Every host is connected and checked before anything starts, so the one confirmation can list
//! the hosts that will run and those that cannot, and a refused host key or a sudo asking for a
//! password stops nothing on the other hosts. A checked host keeps its session: the run is asked
//! on the connection that was checked, never on a new one.
//!
//! `--parallel N` is one [`Semaphore`] of N permits, held by a host while it connects for its
//! check, and again for its whole run (reconnects included). With more hosts than N, hosts check
//! in waves of N and the checked sessions wait open, idle, for the confirmation and then for a
//! permit to run: at most N hosts are connecting or running at once, the next starts when one
//! finishes, and an idle session costs an open TCP connection and an agent waiting for its
//! request (it has no deadline for it), not work on the host.
//!
//! Each host's task ends by sending its summary or its error; the display passes every message to
//! the [`Reporter`] as it comes, so one slow host never holds up another's lines. The tasks run on
//! this thread (a `LocalSet`): the controller waits on the network, not the CPU. Dropping the
//! future returned by [`run`] (Ctrl-C) drops every task, and with them their SSH sessions; the
//! runs go on on their hosts.

mod display;
mod host;

use std::future::Future;
use std::sync::Arc;

use backup_orchestrator_render::Reporter;
use futures_util::future::join_all;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinSet, LocalSet};

use crate::error::CtlError;
use crate::feed::HostFeed;
use crate::reconnect::Connect;

pub use host::{CheckOutcome, HostJob};

/// Checks every job's host, asks `confirm` about the outcomes (an error ends everything before
/// any run starts), then follows every host that can run to its end, showing them through
/// `reporter` (which the display task owns, and drops at the end or on Ctrl-C: bars are cleared
/// before anything else is printed). At most `parallel` hosts connect or run at once.
///
/// Returns each host's exit code, in the order of `jobs`. `Err` when `confirm` said no, or when
/// our own output failed.
pub async fn run<C, F, Fut>(
    mut jobs: Vec<HostJob<C>>,
    reporter: Box<dyn Reporter>,
    parallel: usize,
    confirm: F,
) -> Result<Vec<i32>, CtlError>
where
    C: Connect + 'static,
    F: FnOnce(Vec<CheckOutcome>) -> Fut,
    Fut: Future<Output = Result<(), CtlError>>,
{
    let hosts: Vec<String> = jobs.iter().map(|job| job.host().to_owned()).collect();
    let limit = Arc::new(Semaphore::new(parallel.max(1)));
    let local = LocalSet::new();
    local
        .run_until(async move {
            join_all(jobs.iter_mut().map(|job| {
                let limit = Arc::clone(&limit);
                async move {
                    // Never closed: acquiring fails only on a closed semaphore.
                    let _permit = limit.acquire().await;
                    job.check().await;
                }
            }))
            .await;
            confirm(jobs.iter().map(HostJob::outcome).collect()).await?;

            let (sender, receiver) = mpsc::unbounded_channel();
            let mut tasks = JoinSet::new();
            for job in jobs {
                let feed = HostFeed::new(job.host(), sender.clone());
                tasks.spawn_local(job.follow(feed, Arc::clone(&limit)));
            }
            // The display ends when every task has dropped its feed.
            drop(sender);
            display::show(receiver, reporter, &hosts).await
        })
        .await
}

#[cfg(test)]
mod tests;
