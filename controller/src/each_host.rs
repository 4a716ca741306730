//! One question to many hosts: [`in_order`] asks at most `--parallel` of them at once and hands
//! back their answers in the order the hosts were named.
//!
//! Asked one after another, ten hosts took ten logins end to end (about 1.1 s for `status` on the
//! test hosts); at once they overlap. The order stays the user's, so `status @homelab` prints the
//! same way every time: an answer that arrives early waits for the hosts named before it.

use std::future::Future;

use futures_util::stream::{self, Stream, StreamExt};

use crate::error::CtlError;
use crate::hints::Hints;

/// Asks every host (its connector and hints) with `ask`, at most `parallel` at once; yields each
/// host's hints and result, in the order of `hosts`.
pub fn in_order<C, T, F, Fut>(
    hosts: Vec<(C, Hints)>,
    parallel: usize,
    ask: F,
) -> impl Stream<Item = (Hints, Result<T, CtlError>)>
where
    F: Fn(C, Hints) -> Fut,
    Fut: Future<Output = (Hints, Result<T, CtlError>)>,
{
    stream::iter(hosts)
        .map(move |(connector, hints)| ask(connector, hints))
        .buffered(parallel.max(1))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    fn hints(host: &str) -> Hints {
        Hints {
            host: host.into(),
            attach: String::new(),
            status: String::new(),
        }
    }

    #[tokio::test]
    async fn answers_come_in_the_order_named_with_at_most_parallel_asked_at_once() {
        // Later hosts answer sooner: h1 takes 50 ms, h6 10 ms.
        let hosts: Vec<(u64, Hints)> = (1..=6)
            .map(|n| (60 - 10 * n, hints(&format!("h{n}"))))
            .collect();
        let (now, peak) = (Cell::new(0), Cell::new(0));
        let answers = in_order(hosts, 3, |delay_ms, hints| {
            let (now, peak) = (&now, &peak);
            async move {
                now.set(now.get() + 1);
                peak.set(peak.get().max(now.get()));
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                now.set(now.get() - 1);
                let answer = if hints.host == "h4" {
                    Err(CtlError::Usage {
                        message: "h4 failed".into(),
                    })
                } else {
                    Ok(delay_ms)
                };
                (hints, answer)
            }
        });
        let got: Vec<(String, Result<u64, String>)> = answers
            .map(|(hints, answer)| (hints.host, answer.map_err(|e| e.to_string())))
            .collect()
            .await;
        let hosts: Vec<&str> = got.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(hosts, ["h1", "h2", "h3", "h4", "h5", "h6"]);
        assert_eq!(got[0].1, Ok(50));
        assert!(got[3].1.as_ref().unwrap_err().contains("h4 failed"));
        assert_eq!(peak.get(), 3, "at most --parallel at once, and that many");
    }
}
