//! [`Deadline`]: one time limit shared by every network step of connecting (russh has none).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::connect_error::{ConnectError, Stage};

/// One time limit shared by every step of connecting.
#[derive(Debug)]
pub struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }

    /// Runs `step`, or fails with a timeout naming `stage` and `address`.
    pub async fn run<F: Future>(
        &self,
        stage: Stage,
        address: &str,
        step: F,
    ) -> Result<F::Output, ConnectError> {
        tokio::time::timeout_at(self.at, step)
            .await
            .map_err(|_| ConnectError::Timeout {
                address: address.to_owned(),
                stage,
                secs: self.total.as_secs(),
            })
    }

    /// Gives back time the user spent at a prompt.
    pub fn extend(&mut self, by: Duration) {
        self.at += by;
    }
}
