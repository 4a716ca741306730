//! The question before a real run: [`confirm_run`].
//!
//! A real run starts backups on a production host, so it is confirmed, unless `--yes` or
//! `--dry-run`. Without a terminal (a pipeline, cron) there is nobody to ask: that is a usage
//! error (exit 64) telling to pass `--yes`, never a prompt that hangs.

use std::io::{self, BufRead, IsTerminal, Write};

use backup_orchestrator_render::confirm_prompt;

use crate::error::CtlError;

/// Asks on stderr and reads the answer from stdin, when needed.
pub fn confirm_run(host: &str, yes: bool, dry_run: bool) -> Result<(), CtlError> {
    decide(host, yes, dry_run, io::stdin().is_terminal(), || {
        let mut stderr = io::stderr();
        stderr.write_all(confirm_prompt(host).as_bytes())?;
        stderr.flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        Ok(answer)
    })
}

/// The decision, with the terminal and the answer injected.
fn decide(
    host: &str,
    yes: bool,
    dry_run: bool,
    stdin_is_terminal: bool,
    ask: impl FnOnce() -> io::Result<String>,
) -> Result<(), CtlError> {
    if yes || dry_run {
        return Ok(());
    }
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
    fn confirm_is_skipped_with_yes_or_dry_run() {
        assert!(decide("forge", true, false, false, never_asked).is_ok());
        assert!(decide("forge", false, true, false, never_asked).is_ok());
    }

    #[test]
    fn confirm_without_a_terminal_exits_64_and_says_to_pass_yes() {
        let error = decide("forge", false, false, false, never_asked).unwrap_err();
        assert_eq!(error.exit_code(), 64);
        assert!(error.to_string().contains("--yes"), "{error}");
    }

    #[test]
    fn confirm_accepts_only_yes() {
        assert!(decide("forge", false, false, true, || Ok("y\n".into())).is_ok());
        assert!(decide("forge", false, false, true, || Ok("YES\n".into())).is_ok());
        for answer in ["\n", "n\n", "nope\n", ""] {
            let error = decide("forge", false, false, true, || Ok(answer.into())).unwrap_err();
            assert!(matches!(error, CtlError::NotConfirmed { .. }), "{answer:?}");
        }
    }
}
