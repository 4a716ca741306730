//! Running `sudo -n AGENT serve` in an exec channel, as an [`AgentChannel`]: [`spawn_agent`]; and
//! any other command on a shared connection the same way: [`spawn_command`].
//!
//! russh's `into_stream()` and `make_reader()` drop stderr and the exit status, which are exactly
//! what tells "sudo wants a password" from "agent not installed". So one task demultiplexes the
//! channel with `channel.wait()`:
//!
//! ```text
//!  channel.wait() ─┬─ Data ──────────────▶ duplex pipe ──▶ AgentChannel::stdout (the frame decoder)
//!                  ├─ ExtendedData(1) ───▶ RemoteExit.stderr (first 64 KiB)
//!                  ├─ ExitStatus/Signal ─▶ RemoteExit.status / signal
//!                  └─ None (closed) ─────▶ RemoteExit.finished, then EOF on stdout
//! ```
//!
//! stdout's EOF comes only after the exit status is recorded, so whoever sees the stream end can
//! read why. No PTY is requested: the protocol is binary, and sudo must not find a terminal.

use std::any::Any;
use std::sync::Arc;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::watch;

use super::connect::Connection;
use super::connect_error::{ConnectError, Stage};
use super::deadline::Deadline;
use crate::transport::{AgentChannel, RemoteExit};

/// How much of the remote's stderr is kept for diagnostics.
const STDERR_CAP: usize = 64 * 1024;
/// Bytes of stdout buffered between the channel and the decoder.
const PIPE_CAPACITY: usize = 64 * 1024;

/// The command line run on the host: `sudo -n <agent path, shell-quoted> serve`.
pub fn agent_command(agent_path: &str) -> String {
    format!("sudo -n {} serve", shell_quote(agent_path))
}

/// Quotes `word` for a POSIX shell: as is when it is made of safe characters only, otherwise in
/// single quotes (a `'` becomes `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./+:=@,%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Opens a session channel on `connection`, runs `command`, and returns its streams. The
/// connection is kept alive by the returned channel.
pub async fn spawn_agent(
    connection: Connection,
    command: &str,
    deadline: &Deadline,
) -> Result<AgentChannel, ConnectError> {
    let channel = open_exec(&connection, command, deadline).await?;
    Ok(streams(channel, Box::new(connection)))
}

/// Runs `command` in a new channel of a shared `connection` (a connection that runs several
/// commands, as `install` and `doctor` do); the channel keeps the connection alive.
pub async fn spawn_command(
    connection: &Arc<Connection>,
    command: &str,
    deadline: &Deadline,
) -> Result<AgentChannel, ConnectError> {
    let channel = open_exec(connection, command, deadline).await?;
    Ok(streams(channel, Box::new(Arc::clone(connection))))
}

async fn open_exec(
    connection: &Connection,
    command: &str,
    deadline: &Deadline,
) -> Result<Channel<Msg>, ConnectError> {
    let address = connection.address.clone();
    let exec_error = |source: russh::Error| ConnectError::Exec {
        address: address.clone(),
        command: command.to_owned(),
        source: Box::new(source),
    };
    let channel = deadline
        .run(
            Stage::Exec,
            &address,
            connection.handle.channel_open_session(),
        )
        .await?
        .map_err(exec_error)?;
    deadline
        .run(
            Stage::Exec,
            &address,
            channel.exec(true, command.as_bytes()),
        )
        .await?
        .map_err(exec_error)?;
    Ok(channel)
}

/// The channel's streams, demultiplexed by a task; `keep_alive` lives as long as they do.
fn streams(channel: Channel<Msg>, keep_alive: Box<dyn Any + Send>) -> AgentChannel {
    let (read_half, write_half) = channel.split();
    let stdin = write_half.make_writer();
    let (pipe_in, pipe_out) = tokio::io::duplex(PIPE_CAPACITY);
    let (exit_tx, exit_rx) = watch::channel(RemoteExit::default());
    tokio::spawn(demultiplex(read_half, pipe_in, exit_tx));
    AgentChannel {
        stdout: Box::new(pipe_out),
        stdin: Box::new(stdin),
        exit: exit_rx,
        keep_alive: Box::new((keep_alive, write_half)),
    }
}

/// Sorts the channel's messages until it closes.
async fn demultiplex(
    mut channel: ChannelReadHalf,
    stdout: DuplexStream,
    exit: watch::Sender<RemoteExit>,
) {
    let mut stdout = Some(stdout);
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => {
                if let Some(pipe) = stdout.as_mut()
                    && pipe.write_all(&data).await.is_err()
                {
                    // Nobody reads any more; keep draining for the exit status.
                    stdout = None;
                }
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => exit.send_modify(|e| {
                let room = STDERR_CAP.saturating_sub(e.stderr.len());
                let take = data.len().min(room);
                e.stderr.push_str(&String::from_utf8_lossy(&data[..take]));
            }),
            ChannelMsg::ExitStatus { exit_status } => {
                exit.send_modify(|e| e.status = Some(exit_status))
            }
            ChannelMsg::ExitSignal {
                signal_name,
                error_message,
                ..
            } => exit.send_modify(|e| {
                e.signal = Some(if error_message.is_empty() {
                    format!("{signal_name:?}")
                } else {
                    format!("{signal_name:?} ({error_message})")
                });
            }),
            ChannelMsg::Failure => exit.send_modify(|e| e.exec_refused = true),
            other => tracing::trace!(?other, "channel message"),
        }
    }
    exit.send_modify(|e| e.finished = true);
    drop(stdout);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_quotes_the_agent_path_for_the_shell() {
        assert_eq!(
            agent_command("backup-orchestrator"),
            "sudo -n backup-orchestrator serve"
        );
        assert_eq!(
            agent_command("/run/current-system/sw/bin/backup-orchestrator"),
            "sudo -n /run/current-system/sw/bin/backup-orchestrator serve"
        );
        assert_eq!(
            agent_command("/opt/my agent"),
            "sudo -n '/opt/my agent' serve"
        );
        assert_eq!(agent_command("x; rm -rf /"), "sudo -n 'x; rm -rf /' serve");
        assert_eq!(agent_command("it's"), r"sudo -n 'it'\''s' serve");
        assert_eq!(agent_command("$(reboot)"), "sudo -n '$(reboot)' serve");
        assert_eq!(agent_command(""), "sudo -n '' serve");
    }
}
