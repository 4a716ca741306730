//! `check TARGET… --max-age DURATION`: a Nagios/Icinga plugin. Starts nothing: asks the hosts,
//! at most `--parallel` at once, for their kept runs (`History`) and prints one line per host, in
//! the order they were named, judged by the render crate's
//! [`check_host`]; a host that could not be asked is an UNKNOWN line ([`check_unknown`]), never an
//! error of the command, so the monitoring system always gets a line and a plugin exit code.
//!
//! The exit code is the worst host's, in Nagios's order CRITICAL > WARNING > UNKNOWN > OK
//! ([`worst_check_code`]).

use std::pin::pin;
use std::time::{Duration, SystemTime};

use backup_orchestrator_render::{
    CHECK_OK, check_host, check_unknown, error_chain, worst_check_code,
};

use futures_util::StreamExt;

use crate::each_host;
use crate::error::CtlError;
use crate::interrupt::interruptible;
use crate::one_reply::{AnswerPrinter, fetch_history};
use crate::targets::Targets;

/// Checks every host of `targets` against `max_age`, at most `parallel` at once; `Ok` carries
/// the plugin exit code.
pub async fn run(
    targets: Targets,
    max_age: Duration,
    parallel: usize,
    printer: &mut AnswerPrinter,
) -> Result<i32, CtlError> {
    let hosts = targets
        .hosts
        .into_iter()
        .map(|t| (t.connector, t.hints))
        .collect();
    let histories = each_host::in_order(hosts, parallel, |mut connector, hints| async move {
        let history = fetch_history(&mut connector, &hints).await;
        (hints, history)
    });
    let mut histories = pin!(histories);
    let mut worst = CHECK_OK;
    while let Some((hints, history)) = interruptible(async { Ok(histories.next().await) }).await? {
        let line = match history {
            Ok(history) => check_host(&hints.host, &history, SystemTime::now(), max_age),
            Err(error) => check_unknown(&hints.host, &error_chain(&error)),
        };
        printer.check(&line)?;
        worst = worst_check_code(worst, line.code);
    }
    Ok(worst)
}
