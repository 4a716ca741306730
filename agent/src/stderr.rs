//! [`NonBlockingStderr`]: diagnostics on stderr that never block the run.
//!
//! Inside the run unit, stderr is journald's stream socket. A stalled journald (stopped, or
//! flooded) stops reading it, and once the socket's buffer is full a blocking write stops the
//! run's only thread, timers included: measured on a test host with journald SIGSTOPped, a 5 s run
//! took 34 s (with the journal's datagram socket, see `journal.rs`). So a line that does not fit
//! now is dropped and counted ([`dropped_lines`]); the run says how many at its end. On a terminal
//! or a pipe (not a socket), writes are the ordinary blocking ones.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::io::Errno;
use rustix::net::SendFlags;

/// Lines dropped because stderr's socket was full.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many diagnostic lines were dropped so far (stderr's socket was full).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// stderr, written with `MSG_DONTWAIT` when it is a socket; for `tracing_subscriber`'s
/// `with_writer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NonBlockingStderr;

impl NonBlockingStderr {
    /// For `with_writer`: a writer per line.
    pub fn make() -> NonBlockingStderr {
        NonBlockingStderr
    }
}

impl Write for NonBlockingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stderr = io::stderr();
        // MSG_NOSIGNAL: a closed journal must not kill the run with SIGPIPE.
        match rustix::net::send(
            stderr.as_fd(),
            buf,
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        ) {
            Ok(n) => Ok(n),
            Err(Errno::NOTSOCK) => stderr.lock().write(buf),
            Err(Errno::AGAIN) => {
                // What is left of the line is dropped: claiming it written ends `write_all`.
                DROPPED.fetch_add(1, Ordering::Relaxed);
                Ok(buf.len())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
