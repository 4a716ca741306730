//! The broken-pipe policy of both binaries: [`PipeState`].
//!
//! A reader that goes away (`backup-orchestrator-ctl forge | head -3`) ends the **output**, not the
//! work:
//! - nothing more is written to that reader, and nothing is said about it (no "broken pipe"
//!   message, no panic);
//! - the run is still followed to its end, and the process exits with the code the work earned:
//!   the run's verdict (0, 1, 2) or the error's code (3, 64, 130). A deploy gate reads the exit
//!   code, and `set -o pipefail` pipelines see it, so closing the display must not turn a critical
//!   run into a quiet 0, nor a good run into a failure.
//!
//! A broken pipe is never an error of its own: it has no exit code. The controller applies this
//! through its reporters and its one-shot writes (`status`, `cancel`, completions); the agent's own
//! terminal output adopts it in turn (until then it ends with 130 on a broken pipe).

use std::io;

/// Whether our reader went away: once it has, writes are skipped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipeState {
    closed: bool,
}

impl PipeState {
    /// The reader went away: write nothing more.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Runs `write` unless the reader went away; a broken pipe it returns is remembered and is not
    /// an error. Any other error is returned.
    pub fn write(&mut self, write: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match write() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_state_swallows_a_broken_pipe_and_skips_later_writes() {
        let mut pipe = PipeState::default();
        assert!(pipe.write(|| Ok(())).is_ok());
        assert!(
            pipe.write(|| Err(io::Error::from(io::ErrorKind::BrokenPipe)))
                .is_ok()
        );
        assert!(pipe.is_closed());
        assert!(pipe.write(|| panic!("must not write again")).is_ok());
    }

    #[test]
    fn pipe_state_returns_other_errors() {
        let mut pipe = PipeState::default();
        let error = pipe
            .write(|| Err(io::Error::other("disk full")))
            .unwrap_err();
        assert_eq!(error.to_string(), "disk full");
        assert!(!pipe.is_closed());
    }
}
