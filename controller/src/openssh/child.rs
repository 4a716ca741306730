//! The system `ssh` as an [`AgentChannel`]: [`spawn`].
//!
//! ```text
//!  ssh's stdout ─────────────────────────────▶ AgentChannel::stdout (the frame decoder)
//!  AgentChannel::stdin ──────────────────────▶ ssh's stdin
//!  ssh's stderr ──▶ RemoteExit.stderr (first 64 KiB) ─┐
//!  child.wait() ──▶ RemoteExit.status / signal ───────┴▶ RemoteExit.finished
//! ```
//!
//! ssh passes the remote command's stderr and exit status through, so the session classifies
//! sudo and agent failures exactly as for the native transport; 255 is ssh's own failure. The
//! process is killed (SIGKILL to its PID) when the channel is dropped: the task that waits for it
//! is told so by a oneshot whose sender the channel keeps alive, and `kill_on_drop` covers a
//! runtime that shuts down first.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{oneshot, watch};

use crate::transport::{AgentChannel, RemoteExit};

/// How much of ssh's stderr is kept for diagnostics.
const STDERR_CAP: usize = 64 * 1024;
/// How long stderr is still read once ssh has exited (a child of its own may hold it open).
const STDERR_AFTER_EXIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Starts `program argv…` with piped standard streams, as the agent's channel.
pub fn spawn(program: &str, argv: &[OsString]) -> io::Result<AgentChannel> {
    let mut child = Command::new(program)
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io::Error::other(
            "the child's standard streams were not piped",
        ));
    };
    let (exit_tx, exit_rx) = watch::channel(RemoteExit::default());
    let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
    tokio::spawn(watch_child(child, stderr, exit_tx, dropped_rx));
    Ok(AgentChannel {
        stdout: Box::new(stdout),
        stdin: Box::new(stdin),
        exit: exit_rx,
        keep_alive: Box::new(dropped_tx),
    })
}

/// Records ssh's stderr and exit; kills it when the channel is dropped first.
async fn watch_child(
    mut child: Child,
    stderr: ChildStderr,
    exit: watch::Sender<RemoteExit>,
    mut dropped: oneshot::Receiver<()>,
) {
    let wait = async {
        tokio::select! {
            status = child.wait() => status,
            _ = &mut dropped => {
                tracing::debug!(pid = ?child.id(), "session dropped: killing ssh");
                if let Err(error) = child.start_kill() {
                    tracing::debug!(%error, "could not kill ssh");
                }
                child.wait().await
            }
        }
    };
    // ssh's stderr ends when every process holding it has gone: a child of ssh's own (a
    // ProxyCommand, a shell's command) may keep it open after ssh is dead. So the exit is known
    // when ssh is reaped, and the rest of stderr is read for a moment only.
    let reading = read_stderr(stderr, &exit);
    tokio::pin!(reading, wait);
    let mut read_all = false;
    let status = loop {
        tokio::select! {
            () = &mut reading, if !read_all => read_all = true,
            status = &mut wait => break status,
        }
    };
    if !read_all {
        let _ = tokio::time::timeout(STDERR_AFTER_EXIT, reading).await;
    }
    exit.send_modify(|e| {
        match status {
            Ok(status) => {
                e.status = status.code().and_then(|c| u32::try_from(c).ok());
                e.signal = status.signal().map(|s| format!("signal {s}"));
            }
            Err(error) => tracing::debug!(%error, "could not wait for ssh"),
        }
        e.finished = true;
    });
}

async fn read_stderr(mut stderr: ChildStderr, exit: &watch::Sender<RemoteExit>) {
    let mut buffer = [0u8; 4096];
    loop {
        match stderr.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => exit.send_modify(|e| {
                let room = STDERR_CAP.saturating_sub(e.stderr.len());
                let take = n.min(room);
                e.stderr.push_str(&String::from_utf8_lossy(&buffer[..take]));
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawn_records_stderr_and_the_exit_status() {
        let argv: Vec<OsString> = vec!["-c".into(), "echo oops >&2; exit 255".into()];
        let mut channel = spawn("sh", &argv).unwrap();
        let mut out = Vec::new();
        channel.stdout.read_to_end(&mut out).await.unwrap();
        let exit = channel.exit.wait_for(|e| e.finished).await.unwrap().clone();
        assert_eq!(exit.status, Some(255));
        assert_eq!(exit.stderr, "oops\n");
    }

    #[tokio::test]
    async fn dropping_the_channel_kills_the_process() {
        let argv: Vec<OsString> = vec!["-c".into(), "sleep 30".into()];
        let channel = spawn("sh", &argv).unwrap();
        let mut exit = channel.exit.clone();
        drop(channel);
        let ended = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            exit.wait_for(|e| e.finished),
        )
        .await
        .expect("killed within 5 s")
        .unwrap()
        .clone();
        assert_eq!(ended.signal.as_deref(), Some("signal 9"));
    }
}
