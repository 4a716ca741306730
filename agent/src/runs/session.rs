//! `backup-orchestrator serve`: the controller's session on stdin/stdout, [`serve`].
//!
//! ```text
//!  controller (over SSH, `sudo -n backup-orchestrator serve`)        agent
//!      │ ── Hello ─────────────────────────────────────────────────▶ │ check: magic, protocol major
//!      │ ◀──────────────────────────────────────────────── Hello ── │ (sent even on a mismatch, so the
//!      │                                                            │  controller can say who to upgrade)
//!      │ ── Request ───────────────────────────────────────────────▶ │
//!      │      Run      → plan check → start the run (RunSource) → Reply::Event … RunFinished
//!      │      Attach   → Reply::Event with seq > after_seq … RunFinished (always sent)
//!      │      Status   → Reply::Status       Cancel → Reply::Cancelled
//!      │      Logs     → Reply::Logs (a unit the plan names; else Refused{NotInPlan})
//!      │      History  → Reply::History
//!      │      Unknown  → Reply::Refused{Unsupported}
//!      │ ◀──────────────────────────────────────────── Reply … ──── │ then EOF
//! ```
//!
//! The session only forwards: a run is started by the [`RunSource`] (on a host, as a transient unit
//! owned by PID 1), so when the controller goes away (EOF on stdin, EPIPE on stdout) the run goes on
//! and `serve` just ends quietly, and promptly: stdin is watched while a run is followed, because
//! a quiet run writes nothing that would fail (idle followers once outlived their controllers and
//! piled up, one per reconnect). A peer that sends no Hello within [`HELLO_TIMEOUT`] is not a
//! controller (a stray `sudo backup-orchestrator serve` in a terminal): the session ends. The request never names units: the source runs the host's own plan.
//! stdout carries only frames; diagnostics go to stderr.

use backup_orchestrator_proto::hello::Incompatibility;
use backup_orchestrator_proto::{
    Envelope, Event, FrameError, Hello, MessageCodec, Refusal, RefusalKind, Reply, Request, Role,
    RunHistory, RunOptions, StatusReport, UnitLogs, exit_codes,
};
use std::io;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::identity::SOFTWARE;

/// How long the session waits for the controller's Hello (a controller sends it at once).
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the session's runs come from: the host (transient units and their logs) or, in tests, a
/// fake.
#[allow(async_fn_in_trait)] // used with concrete types on one thread
pub trait RunSource {
    type Events: EventSource;

    /// Checks the host's plan and starts a run (a dry run executes in-process), or refuses.
    async fn run(&mut self, options: RunOptions) -> Result<Self::Events, Refusal>;
    /// The events of `run_id`, or of the running or last run, from its start.
    async fn attach(&mut self, run_id: Option<String>) -> Result<Self::Events, Refusal>;
    async fn status(&mut self) -> Result<StatusReport, Refusal>;
    /// Signals the running run; returns its id.
    async fn cancel(&mut self, stop_units: bool) -> Result<String, Refusal>;
    /// The journal of `unit`'s last invocation; refused for a unit the host's plan does not name.
    async fn logs(&mut self, unit: String, lines: u32) -> Result<UnitLogs, Refusal>;
    /// The runs kept on the host.
    async fn history(&mut self) -> Result<RunHistory, Refusal>;
}

/// One run's events, in order.
#[allow(async_fn_in_trait)]
pub trait EventSource {
    /// The next event; `Ok(None)` after `RunFinished`; `Err` when the run ended without one.
    async fn next(&mut self) -> Result<Option<Envelope>, Refusal>;
}

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The request was answered (a refusal included).
    Done,
    /// The controller went away (EOF before a request, or our stdout closed): nothing to do.
    PeerGone,
    /// The controller speaks another protocol major (our Hello was sent anyway).
    Incompatible(Incompatibility),
    /// The controller sent something that is not the protocol.
    Protocol(FrameError),
    /// Nothing came within [`HELLO_TIMEOUT`]: not a controller.
    NoHello,
}

impl SessionEnd {
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionEnd::Done | SessionEnd::PeerGone => exit_codes::SUCCESS,
            SessionEnd::Incompatible(_) | SessionEnd::Protocol(_) | SessionEnd::NoHello => {
                exit_codes::COULD_NOT_RUN
            }
        }
    }
}

/// A refusal with the exit code its kind implies.
pub fn refusal(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    let exit_code = match kind {
        RefusalKind::PlanInvalid | RefusalKind::NotInPlan => exit_codes::USAGE,
        _ => exit_codes::COULD_NOT_RUN,
    };
    Refusal {
        kind,
        message: message.into(),
        run_id: None,
        started_at: None,
        exit_code,
    }
}

/// Runs one session: Hellos, one request, its replies.
pub async fn serve<R, W, S>(input: R, output: W, source: &mut S) -> SessionEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    S: RunSource,
{
    let mut reader = FramedRead::new(input, MessageCodec::<Hello>::new());
    let mut writer = FramedWrite::new(output, MessageCodec::<()>::new());
    let ours = Hello::new(Role::Agent, SOFTWARE);

    let theirs = match tokio::time::timeout(HELLO_TIMEOUT, reader.next()).await {
        Err(_elapsed) => return SessionEnd::NoHello,
        Ok(Some(Ok(hello))) => hello,
        Ok(Some(Err(e))) => return SessionEnd::Protocol(e),
        Ok(None) => return SessionEnd::PeerGone,
    };
    let compatible = theirs.check_compatible(&ours);
    if writer.send(&ours).await.is_err() {
        return SessionEnd::PeerGone;
    }
    if let Err(incompatibility) = compatible {
        return SessionEnd::Incompatible(incompatibility);
    }

    let mut reader = reader.map_decoder(MessageCodec::retype::<Request>);
    let request = match reader.next().await {
        Some(Ok(request)) => request,
        Some(Err(e)) => return SessionEnd::Protocol(e),
        None => return SessionEnd::PeerGone,
    };
    tracing::debug!("request: {request:?}");
    let sent = match request {
        Request::Run(options) => match source.run(options).await {
            Ok(events) => forward(&mut reader, &mut writer, events, None).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::Attach { run_id, after_seq } => match source.attach(run_id).await {
            Ok(events) => forward(&mut reader, &mut writer, events, after_seq).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::Status => match source.status().await {
            Ok(report) => send(&mut writer, Reply::Status(report)).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::Cancel { stop_units } => match source.cancel(stop_units).await {
            Ok(run_id) => send(&mut writer, Reply::Cancelled { run_id, stop_units }).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::Logs { unit, lines } => match source.logs(unit, lines).await {
            Ok(logs) => send(&mut writer, Reply::Logs(logs)).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::History => match source.history().await {
            Ok(history) => send(&mut writer, Reply::History(history)).await,
            Err(refusal) => send(&mut writer, Reply::Refused(refusal)).await,
        },
        Request::Unknown => {
            let refused = refusal(
                RefusalKind::Unsupported,
                format!("this agent ({SOFTWARE}) does not know that request: upgrade the agent"),
            );
            send(&mut writer, Reply::Refused(refused)).await
        }
    };
    match sent {
        Ok(()) => SessionEnd::Done,
        Err(e) => {
            tracing::debug!("controller gone: {e}");
            SessionEnd::PeerGone
        }
    }
}

type Writer<W> = FramedWrite<W, MessageCodec<()>>;

async fn send<W: AsyncWrite + Unpin>(
    writer: &mut Writer<W>,
    reply: Reply,
) -> Result<(), FrameError> {
    writer.send(reply).await
}

/// Streams a run's events (those after `after_seq`, and `RunFinished` always, so the controller
/// gets its ending even if it had seen it) and ends with a refusal if the run ended without one.
/// Ends early when the controller closes its side (`input` at EOF or broken): nothing more would
/// reach it.
async fn forward<R, W, E>(
    input: &mut FramedRead<R, MessageCodec<Request>>,
    writer: &mut Writer<W>,
    mut events: E,
    after_seq: Option<u64>,
) -> Result<(), FrameError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    E: EventSource,
{
    loop {
        let next = tokio::select! {
            // Events first: a controller that has said all it will (EOF after its request)
            // still gets every event that is ready.
            biased;
            next = events.next() => next,
            frame = input.next() => match frame {
                // Nothing is expected after the request: ignored.
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(FrameError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the controller closed its input",
                    )));
                }
            },
        };
        match next {
            Ok(Some(envelope)) => {
                let finished = matches!(envelope.event, Event::RunFinished(_));
                if finished || after_seq.is_none_or(|after| envelope.seq > after) {
                    send(writer, Reply::Event(envelope)).await?;
                }
                if finished {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(refusal) => return send(writer, Reply::Refused(refusal)).await,
        }
    }
}

#[cfg(test)]
mod tests;
