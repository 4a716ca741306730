//! [`interruptible`]: a one-reply command's work, given up on Ctrl-C (exit 130).

use crate::error::CtlError;

/// Runs `work` until it ends or Ctrl-C. On Ctrl-C the work (and with it the SSH session) is
/// dropped; nothing is left running by a one-reply command.
pub async fn interruptible<T>(
    work: impl std::future::Future<Output = Result<T, CtlError>>,
) -> Result<T, CtlError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(CtlError::Interrupted {
            hosts: Vec::new(),
            attach_hint: None,
        }),
    }
}
