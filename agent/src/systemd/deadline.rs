//! [`bounded`]: every D-Bus call the agent makes has a deadline, and a call that misses it is a
//! [`BusError::NoAnswer`] naming the call.
//!
//! A call waits on two peers: the bus daemon (which must read our message and deliver the reply)
//! and systemd (single-threaded: a `daemon-reload` or a stuck unit job delays every answer). Either
//! can stall, and a run that waits for ever holds the host's run lock for ever. zbus's own
//! `method_timeout` covers only the wait for the reply, not the send (a bus that stops reading
//! our socket blocks the write), and its error names no call; so the whole call, send included,
//! runs under one tokio timer here.

use std::future::Future;
use std::time::Duration;

/// How long any one call may take: libdbus's default reply timeout (25 s), which systemd's own
/// clients (`systemctl`) use too, so a systemd slow enough to miss it is one `systemctl` would
/// report as well.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// A failed D-Bus call: an error reply or a broken connection, or no answer in time.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Call(#[from] zbus::Error),
    #[error("no answer to {call} within {}s", after.as_secs())]
    NoAnswer {
        /// The D-Bus method (`StartUnit`, `GetNameOwner`, …) or step (`connect`).
        call: &'static str,
        after: Duration,
    },
}

impl BusError {
    /// The D-Bus error name of an error reply (`org.freedesktop.systemd1.NoSuchUnit`, …).
    pub fn dbus_error_name(&self) -> Option<String> {
        match self {
            BusError::Call(zbus::Error::MethodError(name, _, _)) => Some(name.to_string()),
            BusError::Call(zbus::Error::FDO(e)) => {
                Some(zbus::DBusError::name(e.as_ref()).to_string())
            }
            BusError::Call(_) | BusError::NoAnswer { .. } => None,
        }
    }

    /// The error reply is `name`.
    pub(crate) fn is_reply(&self, name: &str) -> bool {
        self.dbus_error_name().as_deref() == Some(name)
    }
}

/// Runs `call` (the D-Bus method `name`) within [`CALL_TIMEOUT`].
pub(crate) async fn bounded<T>(
    name: &'static str,
    call: impl Future<Output = zbus::Result<T>>,
) -> Result<T, BusError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => Ok(result?),
        Err(_elapsed) => Err(BusError::NoAnswer {
            call: name,
            after: CALL_TIMEOUT,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_call_without_an_answer_is_no_answer_naming_the_call() {
        let never = std::future::pending::<zbus::Result<()>>();
        let e = bounded("StartUnit", never).await.unwrap_err();
        assert!(matches!(
            e,
            BusError::NoAnswer {
                call: "StartUnit",
                ..
            }
        ));
        assert_eq!(e.to_string(), "no answer to StartUnit within 25s");
        assert_eq!(e.dbus_error_name(), None);
    }
}
