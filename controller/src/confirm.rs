//! The question before a real run: [`require_terminal`] before connecting, [`confirm_checked`]
//! once every host was checked.
//!
//! A real run starts backups on production hosts, so it is confirmed, once for all the hosts,
//! unless `--yes` or `--dry-run`. Without a terminal (a pipeline, cron) there is nobody to ask:
//! that is a usage error (exit 64) telling to pass `--yes`, found before any connection, never a
//! prompt that hangs.

use std::io::{self, BufRead, IsTerminal, Write};

use backup_orchestrator_render::{confirm_prompt, fleet_confirm_prompt};

use crate::error::CtlError;
use crate::fleet::CheckOutcome;

/// Whether a run is asked about: not with `--yes`, nor for a `--dry-run`, which starts nothing.
pub fn is_asked(yes: bool, dry_run: bool) -> bool {
    !(yes || dry_run)
}

/// Fails when a confirmation will be needed and there is no terminal to ask on.
pub fn require_terminal(hosts: &[String], yes: bool, dry_run: bool) -> Result<(), CtlError> {
    if !is_asked(yes, dry_run) || io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CtlError::NoTerminal {
        host: hosts.join(", "),
    })
}

/// Asks once, on stderr, whether to run on the hosts whose check passed (listing the others with
/// why), and reads the answer from stdin; nothing is asked when no host can run. `single` keeps
/// the one-host question of `ctl HOST`. Called only when [`is_asked`].
pub async fn confirm_checked(outcomes: Vec<CheckOutcome>, single: bool) -> Result<(), CtlError> {
    let ready: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.host.as_str())
        .collect();
    if ready.is_empty() {
        return Ok(());
    }
    let cannot: Vec<(&str, &str)> = outcomes
        .iter()
        .filter_map(|o| o.error.as_deref().map(|e| (o.host.as_str(), e)))
        .collect();
    let prompt = if single {
        confirm_prompt(ready[0])
    } else {
        fleet_confirm_prompt(&ready, &cannot)
    };
    let hosts = ready.join(", ");
    // Off the runtime's thread: the checked sessions' keepalives go on while the user reads.
    tokio::task::spawn_blocking(move || {
        decide(&hosts, io::stdin().is_terminal(), || {
            let mut stderr = io::stderr();
            stderr.write_all(prompt.as_bytes())?;
            stderr.flush()?;
            let mut answer = String::new();
            io::stdin().lock().read_line(&mut answer)?;
            Ok(answer)
        })
    })
    .await
    .map_err(|e| CtlError::Internal {
        message: format!("the confirmation: {e}"),
    })?
}

/// The decision, with the terminal and the answer injected.
fn decide(
    host: &str,
    stdin_is_terminal: bool,
    ask: impl FnOnce() -> io::Result<String>,
) -> Result<(), CtlError> {
    if !stdin_is_terminal {
        return Err(CtlError::NoTerminal {
            host: host.to_owned(),
        });
    }
    let answer = ask().map_err(CtlError::Output)?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CtlError::NotConfirmed {
            host: host.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never_asked() -> io::Result<String> {
        panic!("must not ask")
    }

    #[test]
    fn only_a_real_run_without_yes_is_asked() {
        assert!(is_asked(false, false));
        assert!(!is_asked(true, false));
        assert!(!is_asked(false, true));
        assert!(!is_asked(true, true));
        let no_terminal_needed = require_terminal(&["forge".into()], true, false);
        assert!(no_terminal_needed.is_ok());
    }

    #[test]
    fn confirm_without_a_terminal_exits_64_and_says_to_pass_yes() {
        let error = decide("forge", false, never_asked).unwrap_err();
        assert_eq!(error.exit_code(), 64);
        assert!(error.to_string().contains("--yes"), "{error}");
    }

    #[test]
    fn confirm_accepts_only_yes() {
        assert!(decide("forge", true, || Ok("y\n".into())).is_ok());
        assert!(decide("forge", true, || Ok("YES\n".into())).is_ok());
        for answer in ["\n", "n\n", "nope\n", ""] {
            let error = decide("forge", true, || Ok(answer.into())).unwrap_err();
            assert!(matches!(error, CtlError::NotConfirmed { .. }), "{answer:?}");
        }
    }
}
