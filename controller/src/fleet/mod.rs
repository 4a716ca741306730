//! Following hosts' runs at once, and showing them: [`run`]. A single `HOST` is a fleet of one.
//!
//! ```text
//!  Start::AfterConfirming (a terminal asks before a real run):
//!  1. check, at most --parallel at once     2. confirm once     3. run, at most --parallel at once
//!  HostJob ─▶ connect, host key, auth,  ─┐                      ┌─▶ task: Run/Attach ─▶ follow ──┐
//!  HostJob ─▶ sudo, Hello (the session   ├─▶ ready: h1 h2 …  ───┼─▶ task: …                      ├─▶ display task
//!  HostJob ─▶ is kept open)             ─┘   cannot: h3 (why)   └─▶ task: h3's error            ┘   owns the Reporter,
//!                                                                                                   collects exit codes
//!  Start::WhenChecked (--yes, --dry-run, attach: nobody to ask):
//!  task per host: permit ─▶ connect, check ─▶ Run/Attach ─▶ follow ─▶ display task
//! ```
//!
//! When a question is asked, every host is connected and checked before anything starts, so the
//! one confirmation can list the hosts that will run and those that cannot; a refused host key or
//! a sudo asking for a password stops nothing on the other hosts. A checked host keeps its
//! session: the run is asked on the connection that was checked, never on a new one. When nobody
//! is asked, waiting for every check would only make each host wait for the slowest handshake:
//! each host starts the moment its own check passes.
//!
//! `--parallel N` is one [`Semaphore`] of N permits. After a confirmation, a host holds one while
//! it connects for its check, and again for its whole run (reconnects included): with more hosts
//! than N, hosts check in waves of N and the checked sessions wait open, idle, for the
//! confirmation and then for a permit to run (an idle session costs an open TCP connection and an
//! agent waiting for its request, which has no deadline for it, not work on the host). Without a
//! confirmation, a host holds one permit from its connect to its end. Either way at most N hosts
//! are connecting or running at once, and the next starts when one finishes.
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

/// When a host starts its run or attach.
pub enum Start<F> {
    /// Once every host was checked and `F`, the one confirmation shown the check outcomes, said
    /// yes (an error from it ends everything before any run starts).
    AfterConfirming(F),
    /// As soon as the host's own check passes: there is no question to wait for.
    WhenChecked,
}

/// Checks every job's host and follows every host that can run to its end, starting each as
/// `start` says, showing them through `reporter` (which the display task owns, and drops at the
/// end or on Ctrl-C: bars are cleared before anything else is printed). At most `parallel` hosts
/// connect or run at once.
///
/// Returns each host's exit code, in the order of `jobs`. `Err` when the confirmation said no, or
/// when our own output failed.
pub async fn run<C, F, Fut>(
    jobs: Vec<HostJob<C>>,
    reporter: Box<dyn Reporter>,
    parallel: usize,
    start: Start<F>,
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
            let (sender, receiver) = mpsc::unbounded_channel();
            let mut tasks = JoinSet::new();
            match start {
                Start::AfterConfirming(confirm) => {
                    let jobs = check_all(jobs, &limit).await;
                    confirm(jobs.iter().map(HostJob::outcome).collect()).await?;
                    for job in jobs {
                        let feed = HostFeed::new(job.host(), sender.clone());
                        tasks.spawn_local(job.follow(feed, Arc::clone(&limit)));
                    }
                }
                Start::WhenChecked => {
                    for job in jobs {
                        let feed = HostFeed::new(job.host(), sender.clone());
                        tasks.spawn_local(job.check_and_follow(feed, Arc::clone(&limit)));
                    }
                }
            }
            // The display ends when every task has dropped its feed.
            drop(sender);
            display::show(receiver, reporter, &hosts).await
        })
        .await
}

/// Checks every host, at most `limit`'s permits at once, keeping each checked session.
async fn check_all<C: Connect>(mut jobs: Vec<HostJob<C>>, limit: &Semaphore) -> Vec<HostJob<C>> {
    join_all(jobs.iter_mut().map(|job| async move {
        // Never closed: acquiring fails only on a closed semaphore.
        let _permit = limit.acquire().await;
        job.check().await;
    }))
    .await;
    jobs
}

#[cfg(test)]
mod tests;
