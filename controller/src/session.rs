//! One conversation with `backup-orchestrator serve` over any byte stream: [`Session`].
//!
//! ```text
//!  AgentChannel (SSH exec channel, or a duplex pipe in tests)
//!   stdin  ◀── FramedWrite ◀── Hello, then exactly one Request
//!   stdout ──▶ FramedRead<MessageCodec> ──▶ Hello ──check──▶ Reply, Reply, …
//!   stderr, exit status ──▶ RemoteExit (watch) ──▶ diagnose: sudo? agent missing? garbage?
//! ```
//!
//! [`start`] exchanges Hellos and turns every way the start can fail (sudo asking for a password,
//! no agent, an incompatible agent, text on the wire, silence) into a [`RemoteFailure`].
//! [`Session::follow`] streams a run's events into an [`EventSink`], skipping any `seq` already
//! seen, until `RunFinished` or a `Refusal`; a stream that ends before either is reported as
//! [`FollowError::Lost`], which `reconnect` answers with `Attach { run_id, after_seq }`.
//!
//! The session knows nothing of SSH, so the tests drive it with an in-memory fake agent.

use std::any::Any;
use std::io;
use std::time::Duration;

use backup_orchestrator_proto::{
    Envelope, Event, FrameError, Hello, LogLevel, MessageCodec, Refusal, Reply, Request, Role,
    Summary,
};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::error::CtlError;
use crate::remote::{RemoteContext, RemoteFailure, classify_start_failure};

/// How long to wait for the remote process's exit status once its stdout ended.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// `backup-orchestrator-ctl 0.1.0`, sent in our Hello and shown in version messages.
pub fn software() -> String {
    format!("backup-orchestrator-ctl {}", env!("CARGO_PKG_VERSION"))
}

/// What the remote process left besides stdout: stderr, exit status, whether it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteExit {
    /// The start of its stderr (capped), lossily decoded.
    pub stderr: String,
    pub status: Option<u32>,
    pub signal: Option<String>,
    /// The server refused to run the command at all.
    pub exec_refused: bool,
    /// The channel is closed: nothing more will arrive.
    pub finished: bool,
}

/// The agent's standard streams, however they are carried.
pub struct AgentChannel {
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    pub exit: watch::Receiver<RemoteExit>,
    /// Whatever must live as long as the streams (the SSH connection and its jump hosts).
    pub keep_alive: Box<dyn Any + Send>,
}

impl std::fmt::Debug for AgentChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentChannel").finish_non_exhaustive()
    }
}

/// Where a run's events go: the renderer, or a recorder in tests.
pub trait EventSink {
    fn event(&mut self, envelope: &Envelope) -> io::Result<()>;
    /// A line of our own (`connection lost, reconnecting (1/5)…`).
    fn message(&mut self, level: LogLevel, text: &str) -> io::Result<()>;
}

/// How a followed run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    Finished(Summary),
    Refused(Refusal),
}

/// Why following a run stopped before its end.
#[derive(Debug)]
pub enum FollowError {
    /// The stream ended or broke: reconnecting and attaching may continue it.
    Lost { reason: String },
    /// Anything else: reconnecting would not help.
    Fatal(CtlError),
}

/// Where a followed run is, so a new session can pick it up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunTracker {
    pub run_id: Option<String>,
    /// The highest `seq` passed to the sink.
    pub last_seq: Option<u64>,
}

impl RunTracker {
    /// The request that continues this run on a new connection, if the run is known.
    pub fn resume_request(&self) -> Option<Request> {
        self.run_id.as_ref().map(|run_id| Request::Attach {
            run_id: Some(run_id.clone()),
            after_seq: self.last_seq,
        })
    }
}

/// A session past the Hello exchange.
pub struct Session {
    replies: FramedRead<Box<dyn AsyncRead + Send + Unpin>, MessageCodec<Reply>>,
    requests: FramedWrite<Box<dyn AsyncWrite + Send + Unpin>, MessageCodec<()>>,
    exit: watch::Receiver<RemoteExit>,
    peer: Hello,
    context: RemoteContext,
    _keep_alive: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Sends our Hello, reads and checks the agent's; `hello_timeout` bounds the wait for it.
pub async fn start(
    channel: AgentChannel,
    context: &RemoteContext,
    hello_timeout: Duration,
) -> Result<Session, CtlError> {
    let AgentChannel {
        stdout,
        stdin,
        mut exit,
        keep_alive,
    } = channel;
    let mut requests = FramedWrite::new(stdin, MessageCodec::<()>::new());
    let ours = Hello::new(Role::Controller, software());
    // A failed write (the remote already gone: sudo refused, no agent) is diagnosed from what
    // the read below sees, with the remote's stderr and exit status.
    if let Err(e) = requests.send(&ours).await {
        tracing::debug!(error = %e, "could not send our Hello");
    }
    let mut hellos = FramedRead::new(stdout, MessageCodec::<Hello>::new());
    let first = tokio::time::timeout(hello_timeout, hellos.next()).await;
    let peer = match first {
        Ok(Some(Ok(hello))) => hello,
        Ok(Some(Err(FrameError::UnexpectedText { text }))) => {
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, Some(&text), &remote).into());
        }
        Ok(Some(Err(FrameError::Garbage { preview }))) => {
            return Err(RemoteFailure::Garbage {
                host: context.host.clone(),
                seen: format!("bytes {preview}"),
            }
            .into());
        }
        Ok(Some(Err(FrameError::Decode { len, source }))) => {
            return Err(RemoteFailure::Garbage {
                host: context.host.clone(),
                seen: format!("a {len}-byte frame that is not a Hello ({source})"),
            }
            .into());
        }
        Ok(Some(Err(other))) => {
            tracing::debug!(error = %other, "the stream broke before the agent's Hello");
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, None, &remote).into());
        }
        Ok(None) => {
            let remote = wait_exit(&mut exit).await;
            return Err(classify_start_failure(context, None, &remote).into());
        }
        Err(_elapsed) => {
            return Err(RemoteFailure::NoHello {
                host: context.host.clone(),
                secs: hello_timeout.as_secs(),
                stderr: exit.borrow().stderr.clone(),
            }
            .into());
        }
    };
    if let Err(source) = peer.check_compatible(&ours) {
        return Err(RemoteFailure::Incompatible {
            host: context.host.clone(),
            source,
        }
        .into());
    }
    tracing::debug!(agent = %peer.software, protocol = %peer.protocol, "agent said hello");
    Ok(Session {
        replies: hellos.map_decoder(MessageCodec::retype),
        requests,
        exit,
        peer,
        context: context.clone(),
        _keep_alive: keep_alive,
    })
}

/// The remote's exit, waiting briefly for the channel to close.
async fn wait_exit(exit: &mut watch::Receiver<RemoteExit>) -> RemoteExit {
    let _ = tokio::time::timeout(EXIT_GRACE, exit.wait_for(|e| e.finished)).await;
    exit.borrow().clone()
}

impl Session {
    /// Refuses early when the agent lacks a capability the request needs.
    pub fn require(&self, capability: &str) -> Result<(), CtlError> {
        if self.peer.has_capability(capability) {
            Ok(())
        } else {
            Err(RemoteFailure::MissingCapability {
                host: self.context.host.clone(),
                capability: capability.to_owned(),
                agent: self.peer.software.clone(),
            }
            .into())
        }
    }

    /// Sends the session's one request.
    pub async fn send(&mut self, request: &Request) -> Result<(), FollowError> {
        self.requests
            .send(request)
            .await
            .map_err(|e| FollowError::Lost {
                reason: format!("sending the request failed: {e}"),
            })
    }

    /// The next reply; `Ok(None)` at a clean end of the stream.
    async fn next_reply(&mut self) -> Result<Option<Reply>, FollowError> {
        match self.replies.next().await {
            None => Ok(None),
            Some(Ok(reply)) => Ok(Some(reply)),
            Some(Err(error)) => Err(self.stream_error(error).await),
        }
    }

    /// A broken stream is lost (reconnect); text or garbage on it is fatal.
    async fn stream_error(&mut self, error: FrameError) -> FollowError {
        match error {
            FrameError::Io(e) => FollowError::Lost {
                reason: e.to_string(),
            },
            FrameError::Truncated { .. } => FollowError::Lost {
                reason: error.to_string(),
            },
            FrameError::UnexpectedText { text } => FollowError::Fatal(
                RemoteFailure::Garbage {
                    host: self.context.host.clone(),
                    seen: format!("text {text:?}"),
                }
                .into(),
            ),
            other => FollowError::Fatal(
                RemoteFailure::Garbage {
                    host: self.context.host.clone(),
                    seen: other.to_string(),
                }
                .into(),
            ),
        }
    }

    /// Why the stream ended early, with the remote's stderr when it said something.
    fn lost_reason(&self) -> String {
        let exit = self.exit.borrow().clone();
        let mut reason = String::from("the stream ended before the run's summary");
        if let Some(status) = exit.status {
            reason.push_str(&format!(" (the agent exited with status {status})"));
        }
        if let Some(signal) = &exit.signal {
            reason.push_str(&format!(" (the agent was killed by signal {signal})"));
        }
        let stderr = exit.stderr.trim();
        if !stderr.is_empty() {
            reason.push_str(&format!("; its stderr: {stderr}"));
        }
        reason
    }

    /// Streams a run's events into `sink` until its summary or a refusal. Events at or below
    /// `tracker.last_seq` are skipped (a replay after reconnecting).
    pub async fn follow(
        &mut self,
        sink: &mut dyn EventSink,
        tracker: &mut RunTracker,
    ) -> Result<RunEnd, FollowError> {
        loop {
            let reply = match self.next_reply().await? {
                Some(reply) => reply,
                None => {
                    let reason = self.lost_reason();
                    return Err(FollowError::Lost { reason });
                }
            };
            match reply {
                Reply::Event(envelope) => {
                    if tracker.last_seq.is_some_and(|last| envelope.seq <= last) {
                        continue;
                    }
                    if let Event::RunStarted(started) = &envelope.event {
                        tracker.run_id = Some(started.run_id.clone());
                    }
                    tracker.last_seq = Some(envelope.seq);
                    sink.event(&envelope)
                        .map_err(|e| FollowError::Fatal(CtlError::Output(e)))?;
                    if let Event::RunFinished(finished) = envelope.event {
                        return Ok(RunEnd::Finished(finished.summary));
                    }
                }
                Reply::Refused(refusal) => return Ok(RunEnd::Refused(refusal)),
                other => {
                    return Err(FollowError::Fatal(self.unexpected(&other)));
                }
            }
        }
    }

    /// The one reply to a Status or Cancel request.
    pub async fn single_reply(&mut self) -> Result<Reply, CtlError> {
        match self.next_reply().await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => {
                let reason = self.lost_reason();
                Err(CtlError::ConnectionLost {
                    host: self.context.host.clone(),
                    reason,
                })
            }
            Err(FollowError::Lost { reason }) => Err(CtlError::ConnectionLost {
                host: self.context.host.clone(),
                reason,
            }),
            Err(FollowError::Fatal(e)) => Err(e),
        }
    }

    /// A reply that makes no sense for the request sent.
    pub fn unexpected(&self, reply: &Reply) -> CtlError {
        let kind = match reply {
            Reply::Event(_) => "an event",
            Reply::Status(_) => "a status report",
            Reply::Cancelled { .. } => "a cancel confirmation",
            Reply::Refused(_) => "a refusal",
            Reply::Unknown => "a reply this version does not know",
        };
        RemoteFailure::Unexpected {
            host: self.context.host.clone(),
            agent: self.peer.software.clone(),
            reply: kind.to_owned(),
        }
        .into()
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! An in-memory agent speaking the real codec over `tokio::io::duplex`.

    use super::*;

    /// The agent's end of a fake channel.
    pub struct FakeAgent {
        pub frames_in: FramedRead<tokio::io::DuplexStream, MessageCodec<serde_json::Value>>,
        pub out: tokio::io::DuplexStream,
        pub exit: watch::Sender<RemoteExit>,
    }

    /// A channel for the controller and the agent's end of it.
    pub fn pair() -> (AgentChannel, FakeAgent) {
        let (ctl_out, agent_in) = tokio::io::duplex(64 * 1024);
        let (agent_out, ctl_in) = tokio::io::duplex(64 * 1024);
        let (exit_tx, exit_rx) = watch::channel(RemoteExit::default());
        let channel = AgentChannel {
            stdout: Box::new(ctl_in),
            stdin: Box::new(ctl_out),
            exit: exit_rx,
            keep_alive: Box::new(()),
        };
        let agent = FakeAgent {
            frames_in: FramedRead::new(agent_in, MessageCodec::new()),
            out: agent_out,
            exit: exit_tx,
        };
        (channel, agent)
    }

    impl FakeAgent {
        /// Reads the controller's Hello (as JSON values, to see exactly what was sent).
        pub async fn read_frame(&mut self) -> serde_json::Value {
            self.frames_in
                .next()
                .await
                .expect("a frame")
                .expect("a valid frame")
        }

        pub async fn write<T: serde::Serialize>(&mut self, item: &T) {
            use tokio::io::AsyncWriteExt;
            let frame = backup_orchestrator_proto::codec::encode_frame(item).unwrap();
            self.out.write_all(&frame).await.unwrap();
        }

        pub async fn write_raw(&mut self, bytes: &[u8]) {
            use tokio::io::AsyncWriteExt;
            self.out.write_all(bytes).await.unwrap();
        }

        /// Reads our Hello and answers with `hello`; returns the Request that follows.
        pub async fn handshake(&mut self, hello: &Hello) -> Request {
            let ours = self.read_frame().await;
            assert_eq!(ours["role"], "controller");
            self.write(hello).await;
            serde_json::from_value(self.read_frame().await).expect("a Request")
        }

        /// Ends the process: stdout closes, then the exit status arrives.
        pub fn exit(self, status: Option<u32>, stderr: &str) {
            drop(self.out);
            self.exit.send_modify(|e| {
                e.status = status;
                e.stderr = stderr.to_owned();
                e.finished = true;
            });
        }
    }

    /// An agent Hello of this build.
    pub fn agent_hello() -> Hello {
        Hello::new(Role::Agent, "backup-orchestrator 0.1.0")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use backup_orchestrator_proto::event::{RunFinished, RunStarted};
    use backup_orchestrator_proto::{RefusalKind, exit_codes};

    use super::fake::*;
    use super::*;

    pub(crate) fn context() -> RemoteContext {
        RemoteContext {
            host: "forge".into(),
            user: "deploy".into(),
            agent_path: "backup-orchestrator".into(),
        }
    }

    #[derive(Default)]
    pub(crate) struct Recorder {
        pub seqs: Vec<u64>,
        pub messages: Vec<String>,
    }

    impl EventSink for Recorder {
        fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
            self.seqs.push(envelope.seq);
            Ok(())
        }
        fn message(&mut self, _level: LogLevel, text: &str) -> io::Result<()> {
            self.messages.push(text.to_owned());
            Ok(())
        }
    }

    fn started(seq: u64) -> Reply {
        Reply::Event(Envelope {
            seq,
            at_ms: 0,
            elapsed_ms: 0,
            event: Event::RunStarted(RunStarted {
                run_id: "run-1".into(),
                host: "forge".into(),
                started_at: "2025-11-03T02:00:00Z".into(),
                agent: "backup-orchestrator 0.1.0".into(),
                dry_run: false,
                plan: Default::default(),
            }),
        })
    }

    fn finished(seq: u64, exit_code: i32) -> Reply {
        let mut summary = backup_orchestrator_render::demo_events()
            .into_iter()
            .find_map(|e| match e.event {
                Event::RunFinished(f) => Some(f.summary),
                _ => None,
            })
            .unwrap();
        summary.exit_code = exit_code;
        Reply::Event(Envelope {
            seq,
            at_ms: 0,
            elapsed_ms: 0,
            event: Event::RunFinished(RunFinished { summary }),
        })
    }

    #[tokio::test]
    async fn session_follows_a_run_to_its_summary_exit_code() {
        let (channel, mut agent) = pair();
        let agent_task = tokio::spawn(async move {
            let request = agent.handshake(&agent_hello()).await;
            assert_eq!(request, Request::Run(Default::default()));
            agent.write(&started(0)).await;
            agent.write(&finished(1, exit_codes::CRITICAL)).await;
            agent.exit(Some(0), "");
        });
        let mut session = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap();
        session
            .send(&Request::Run(Default::default()))
            .await
            .unwrap();
        let mut sink = Recorder::default();
        let mut tracker = RunTracker::default();
        let end = session.follow(&mut sink, &mut tracker).await.unwrap();
        match end {
            RunEnd::Finished(summary) => assert_eq!(summary.exit_code, 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(sink.seqs, vec![0, 1]);
        assert_eq!(tracker.run_id.as_deref(), Some("run-1"));
        agent_task.await.unwrap();
    }

    #[tokio::test]
    async fn session_returns_a_refusal_with_its_exit_code() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            agent.handshake(&agent_hello()).await;
            agent
                .write(&Reply::Refused(Refusal {
                    kind: RefusalKind::RunInProgress,
                    message: "a run is in progress".into(),
                    run_id: Some("run-0".into()),
                    started_at: None,
                    exit_code: exit_codes::COULD_NOT_RUN,
                }))
                .await;
            agent.exit(Some(3), "");
        });
        let mut session = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap();
        session
            .send(&Request::Run(Default::default()))
            .await
            .unwrap();
        let end = session
            .follow(&mut Recorder::default(), &mut RunTracker::default())
            .await
            .unwrap();
        let RunEnd::Refused(refusal) = end else {
            panic!("{end:?}")
        };
        let error = CtlError::Refused {
            host: "forge".into(),
            refusal: Box::new(refusal),
            attach_hint: None,
        };
        assert_eq!(error.exit_code(), 3);
    }

    #[tokio::test]
    async fn session_names_both_versions_and_the_host_when_the_agent_is_incompatible() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            let _ = agent.read_frame().await;
            let mut hello = agent_hello();
            hello.protocol.major = 2;
            hello.software = "backup-orchestrator 2.0.0".into();
            agent.write(&hello).await;
        });
        let error = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.exit_code(), 3);
        assert!(message.starts_with("forge: "), "{message}");
        assert!(
            message.contains("protocol 2.0 (backup-orchestrator 2.0.0)"),
            "{message}"
        );
        assert!(
            message.contains(&format!("protocol 1.0 ({})", software())),
            "{message}"
        );
    }

    #[tokio::test]
    async fn session_explains_sudo_wanting_a_password_from_stderr_and_exit_status() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            let _ = agent.read_frame().await;
            agent.exit(Some(1), "sudo: a password is required\n");
        });
        let error = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.exit_code(), 3);
        assert!(
            message.contains(
                "deploy ALL=(root) NOPASSWD: /run/current-system/sw/bin/backup-orchestrator serve"
            ),
            "{message}"
        );
    }

    #[tokio::test]
    async fn session_explains_sudo_text_on_stdout_too() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            let _ = agent.read_frame().await;
            agent.write_raw(b"sudo: a password is required\n").await;
            agent.exit(Some(1), "");
        });
        let error = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, CtlError::Remote(f) if matches!(**f, RemoteFailure::SudoPassword { .. }))
        );
    }

    #[tokio::test]
    async fn session_reports_other_text_on_the_wire_with_the_text_seen() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            let _ = agent.read_frame().await;
            agent
                .write_raw(b"Welcome to forge! Have a nice day\n")
                .await;
            agent.exit(Some(0), "");
        });
        let error = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.exit_code(), 3);
        assert!(
            message.contains("Welcome to forge! Have a nice day"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn session_gives_up_waiting_for_a_silent_agent() {
        let (channel, agent) = pair();
        let error = start(channel, &context(), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, CtlError::Remote(f) if matches!(**f, RemoteFailure::NoHello { .. })),
            "{error}"
        );
        drop(agent);
    }

    #[tokio::test]
    async fn session_reports_a_lost_stream_before_the_summary() {
        let (channel, mut agent) = pair();
        tokio::spawn(async move {
            agent.handshake(&agent_hello()).await;
            agent.write(&started(0)).await;
            agent.exit(None, "");
        });
        let mut session = start(channel, &context(), Duration::from_secs(5))
            .await
            .unwrap();
        session
            .send(&Request::Run(Default::default()))
            .await
            .unwrap();
        let mut tracker = RunTracker::default();
        let error = session
            .follow(&mut Recorder::default(), &mut tracker)
            .await
            .unwrap_err();
        assert!(matches!(error, FollowError::Lost { .. }), "{error:?}");
        assert_eq!(
            tracker.resume_request(),
            Some(Request::Attach {
                run_id: Some("run-1".into()),
                after_seq: Some(0)
            })
        );
    }
}
