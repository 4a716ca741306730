//! `check TARGET… --max-age DURATION`: a Nagios/Icinga plugin. Starts nothing: asks each host in
//! turn for its kept runs (`History`) and prints one line per host, judged by the render crate's
//! [`check_host`]; a host that could not be asked is an UNKNOWN line ([`check_unknown`]), never an
//! error of the command, so the monitoring system always gets a line and a plugin exit code.
//!
//! The exit code is the worst host's, in Nagios's order CRITICAL > WARNING > UNKNOWN > OK
//! ([`worst_check_code`]).

use std::time::{Duration, SystemTime};

use backup_orchestrator_render::{
    CHECK_OK, check_host, check_unknown, error_chain, worst_check_code,
};

use crate::error::CtlError;
use crate::interrupt::interruptible;
use crate::one_reply::{AnswerPrinter, fetch_history};
use crate::targets::Targets;

/// Checks every host of `targets` against `max_age`; `Ok` carries the plugin exit code.
pub async fn run(
    targets: Targets,
    max_age: Duration,
    printer: &mut AnswerPrinter,
) -> Result<i32, CtlError> {
    let mut worst = CHECK_OK;
    for mut target in targets.hosts {
        let host = target.hints.host.clone();
        let work = fetch_history(&mut target.connector, &target.hints);
        let line = match interruptible(work).await {
            Ok(history) => check_host(&host, &history, SystemTime::now(), max_age),
            Err(error @ (CtlError::Interrupted { .. } | CtlError::Output(_))) => return Err(error),
            Err(error) => check_unknown(&host, &error_chain(&error)),
        };
        printer.check(&line)?;
        worst = worst_check_code(worst, line.code);
    }
    Ok(worst)
}
