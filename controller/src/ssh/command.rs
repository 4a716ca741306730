//! Running a short command on the host to its end and keeping what it said: [`run`].
//!
//! `install` and `doctor` ask the host many small questions (`sha256sum`, `sudo -n -l`,
//! `mountpoint -q`) on one connection, each in its own exec channel ([`exec::spawn_command`]);
//! stdin is streamed in (the agent binary, a sudo password) while stdout is read, so a command
//! that answers before it has read everything cannot deadlock on a full window.
//!
//! Commands are fixed text; anything that comes from the user or the host is passed through
//! [`exec::shell_quote`], never spliced raw.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::connect::Connection;
use super::connect_error::ConnectError;
use super::deadline::Deadline;
use super::exec;
use crate::transport::RemoteExit;

/// Most stdout kept from one command: these are short answers, not data.
const STDOUT_CAP: u64 = 1024 * 1024;
/// How long to wait for the exit status after stdout ended.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// What a finished command left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub stdout: String,
    pub exit: RemoteExit,
}

impl CommandOutput {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.exit.status == Some(0)
    }
}

/// A command could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Connect(Box<ConnectError>),
    #[error("`{command}` did not finish within {secs} s")]
    Timeout { command: String, secs: u64 },
    #[error("the connection broke while running `{command}`")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `command` on `connection`, feeding it `stdin` (then EOF), and waits for its exit, all
/// within `timeout`.
pub async fn run(
    connection: &Arc<Connection>,
    command: &str,
    stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    timeout: Duration,
) -> Result<CommandOutput, CommandError> {
    let work = async {
        let deadline = Deadline::after(timeout);
        let mut channel = exec::spawn_command(connection, command, &deadline)
            .await
            .map_err(|e| CommandError::Connect(Box::new(e)))?;
        let mut input = channel.stdin;
        let feed = async {
            if let Some(stdin) = stdin {
                tokio::io::copy(stdin, &mut input).await?;
            }
            // EOF: the command must not wait for more.
            input.shutdown().await
        };
        let mut stdout = Vec::new();
        let mut limited = (&mut channel.stdout).take(STDOUT_CAP);
        let read = limited.read_to_end(&mut stdout);
        let (fed, read) = tokio::join!(feed, read);
        let io_error = |source| CommandError::Io {
            command: command.to_owned(),
            source,
        };
        read.map_err(io_error)?;
        let mut exit = channel.exit;
        let _ = tokio::time::timeout(EXIT_GRACE, exit.wait_for(|e| e.finished)).await;
        let exit = exit.borrow().clone();
        // A command that exits without reading all its input breaks the feed; its exit says why.
        if let Err(e) = fed
            && exit.status.is_none()
        {
            return Err(io_error(e));
        }
        drop(channel.keep_alive);
        Ok(CommandOutput {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            exit,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| CommandError::Timeout {
            command: command.to_owned(),
            secs: timeout.as_secs(),
        })?
}
