//! Running a child process with a deadline, std only.
//!
//! `Command::output` waits forever; a hung ssh or harness call must fail the test instead.
//! Output is drained by two threads into shared buffers, so a chatty child never blocks on
//! a full pipe while we poll for its exit, and a grandchild that inherited the pipe (and
//! keeps it open after the child exits) cannot make us wait for EOF forever either.

use std::fmt;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);
/// How long to wait for EOF on the pipes after the child is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// A child that did not exit within its deadline; it was killed. Holds what it printed.
#[derive(Debug)]
pub struct TimedOut {
    pub program: String,
    pub timeout: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} did not finish within {:?} and was killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.program,
            self.timeout,
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr),
        )
    }
}

impl std::error::Error for TimedOut {}

/// Runs `cmd` with stdin from /dev/null and captured stdout/stderr, killing it after `timeout`.
///
/// # Panics
/// If the program cannot be started at all (a missing `ssh` or `bash` is a broken machine,
/// not a test result).
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, TimedOut> {
    let program = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {program}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = wait_until(&mut child, Instant::now() + timeout);
    let grace = Instant::now() + DRAIN_GRACE;
    let (stdout, stderr) = (collect(stdout, grace), collect(stderr, grace));
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(TimedOut {
            program,
            timeout,
            stdout,
            stderr,
        }),
    }
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let polls = deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .div_ceil(POLL.as_millis())
        + 1;
    for _ in 0..polls {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) | Err(_) => break,
        }
    }
    // Killed: reap it so no zombie outlives the call; the pipes then reach EOF.
    let _ = child.kill();
    let _ = child.wait();
    None
}

type Drain = (Arc<Mutex<Vec<u8>>>, JoinHandle<()>);

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<Drain> {
    pipe.map(|mut pipe| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let reader = thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            // Ends at EOF or on a read error; what was read so far is kept either way.
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(&chunk[..n]);
            }
        });
        (buf, reader)
    })
}

/// What the reader got by EOF, or by `deadline` if something still holds the pipe open
/// (the reader thread is then left behind, blocked on a pipe nobody will write to).
fn collect(drain: Option<Drain>, deadline: Instant) -> Vec<u8> {
    let Some((buf, reader)) = drain else {
        return Vec::new();
    };
    let polls = DRAIN_GRACE.as_millis().div_ceil(POLL.as_millis());
    for _ in 0..polls {
        if reader.is_finished() || Instant::now() >= deadline {
            break;
        }
        thread::sleep(POLL);
    }
    buf.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_with_timeout_returns_output_when_child_exits_in_time() {
        let out = output_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .expect("sh exits at once");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn output_with_timeout_returns_when_grandchild_keeps_pipe_open() {
        let started = Instant::now();
        let out = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 8 & echo done"]),
            Duration::from_secs(20),
        )
        .expect("sh itself exits at once");
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "waited for the grandchild"
        );
        assert_eq!(out.stdout, b"done\n");
    }

    #[test]
    fn output_with_timeout_kills_child_when_deadline_passes() {
        let started = Instant::now();
        let err = output_with_timeout(
            Command::new("sh").args(["-c", "echo partial; exec sleep 30"]),
            Duration::from_millis(300),
        )
        .expect_err("sleep 30 outlives a 300 ms deadline");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(err.stdout, b"partial\n");
    }
}
