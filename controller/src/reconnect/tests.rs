use std::collections::VecDeque;

use backup_orchestrator_proto::event::{Log, RunFinished, RunStarted};
use backup_orchestrator_proto::{Envelope, Event, Reply};

use super::*;
use crate::feed::HostMessage;
use crate::remote::RemoteContext;
use crate::session::fake::{FakeAgent, agent_hello, pair};
use crate::session::start;

/// The display's end of a host's feed.
struct Recorder {
    feed: HostFeed,
    receiver: tokio::sync::mpsc::UnboundedReceiver<HostMessage>,
    seqs: Vec<u64>,
    messages: Vec<String>,
    /// What a plain-lines display shows of the events received.
    shown: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    renderer: backup_orchestrator_render::Renderer,
}

/// A writer the test keeps a handle on.
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Recorder {
    fn new() -> Recorder {
        use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer};
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let shown = std::sync::Arc::default();
        let renderer = Renderer::with_writers(
            RenderOptions::new(OutputMode::Plain),
            Box::new(Shared(std::sync::Arc::clone(&shown))),
            Box::new(std::io::sink()),
        );
        Recorder {
            feed: HostFeed::new("forge", sender),
            receiver,
            seqs: Vec::new(),
            messages: Vec::new(),
            shown,
            renderer,
        }
    }

    /// Takes in what reached the display so far.
    fn drain(&mut self) {
        while let Ok(message) = self.receiver.try_recv() {
            match message {
                HostMessage::Event { envelope, .. } => {
                    self.seqs.push(envelope.seq);
                    self.renderer.event(&envelope).unwrap();
                }
                HostMessage::Message { text, .. } => self.messages.push(text),
                other => panic!("the host task sends these, not reconnect: {other:?}"),
            }
        }
    }

    fn shown(&self) -> String {
        String::from_utf8(self.shown.lock().unwrap().clone()).unwrap()
    }
}

fn context() -> RemoteContext {
    RemoteContext {
        host: "forge".into(),
        user: "deploy".into(),
        agent_path: "backup-orchestrator".into(),
    }
}

fn hints() -> Hints {
    Hints {
        host: "forge".into(),
        attach: "backup-orchestrator-ctl attach forge".into(),
        status: "backup-orchestrator-ctl status forge".into(),
    }
}

fn instant_policy() -> RetryPolicy {
    RetryPolicy {
        delays: vec![Duration::ZERO; 5],
    }
}

/// The run's events: RunStarted, logs, RunFinished at `last`.
fn event(seq: u64, last: u64) -> Reply {
    let event = if seq == 0 {
        Event::RunStarted(RunStarted {
            run_id: "run-7".into(),
            host: "forge".into(),
            started_at: "2025-11-03T02:00:00Z".into(),
            agent: "backup-orchestrator 0.1.0".into(),
            dry_run: false,
            plan: Default::default(),
        })
    } else if seq == last {
        let mut summary = backup_orchestrator_render::demo_events()
            .into_iter()
            .find_map(|e| match e.event {
                Event::RunFinished(f) => Some(f.summary),
                _ => None,
            })
            .unwrap();
        summary.exit_code = 1;
        Event::RunFinished(RunFinished { summary })
    } else {
        Event::Log(Log {
            level: LogLevel::Info,
            message: format!("event {seq}"),
        })
    };
    Reply::Event(Envelope {
        seq,
        at_ms: seq,
        elapsed_ms: seq,
        event,
    })
}

type Script = Box<dyn FnOnce(FakeAgent) -> futures_util::future::BoxFuture<'static, ()> + Send>;

/// Each connect plays the next script; `None` is a failed (transient) connect.
struct FakeConnector {
    scripts: VecDeque<Option<Script>>,
    connects: usize,
}

impl Connect for FakeConnector {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        self.connects += 1;
        match self.scripts.pop_front().flatten() {
            Some(script) => {
                let (channel, agent) = pair();
                tokio::spawn(script(agent));
                Ok(start(channel, &context(), Duration::from_secs(5)).await?)
            }
            None => Err(CtlError::ConnectionLost {
                host: "forge".into(),
                reason: "connection refused".into(),
            }),
        }
    }
}

fn script(
    f: impl FnOnce(FakeAgent) -> futures_util::future::BoxFuture<'static, ()> + Send + 'static,
) -> Option<Script> {
    Some(Box::new(f))
}

#[tokio::test]
async fn reconnect_resumes_with_after_seq_and_renders_no_duplicate() {
    let mut connector = FakeConnector {
        scripts: VecDeque::from([
            // First connection: the run starts, 4 events, then the connection drops.
            script(|mut agent| {
                Box::pin(async move {
                    let request = agent.handshake(&agent_hello()).await;
                    assert!(matches!(request, Request::Run(_)));
                    for seq in 0..=3 {
                        agent.write(&event(seq, 8)).await;
                    }
                    agent.exit(None, "");
                })
            }),
            // A reconnect that fails.
            None,
            // Then one that works: it must ask for the events after 3; it replays from 2
            // anyway, and the display shows them once.
            script(|mut agent| {
                Box::pin(async move {
                    let request = agent.handshake(&agent_hello()).await;
                    assert_eq!(
                        request,
                        Request::Attach {
                            run_id: Some("run-7".into()),
                            after_seq: Some(3)
                        }
                    );
                    for seq in 2..=8 {
                        agent.write(&event(seq, 8)).await;
                    }
                    agent.exit(Some(0), "");
                })
            }),
        ]),
        connects: 0,
    };
    let first = connector.connect().await.unwrap();
    let mut sink = Recorder::new();
    let end = follow(
        &mut connector,
        first,
        Request::Run(Default::default()),
        &sink.feed,
        &instant_policy(),
        &hints(),
    )
    .await
    .unwrap();
    let RunEnd::Finished(summary) = end else {
        panic!("{end:?}")
    };
    assert_eq!(summary.exit_code, 1);
    sink.drain();
    // Everything received is passed on, the replay of 2 and 3 included; shown once.
    assert_eq!(sink.seqs, [0, 1, 2, 3, 2, 3, 4, 5, 6, 7, 8]);
    let shown = sink.shown();
    let events: Vec<&str> = shown.lines().filter(|l| l.contains("event ")).collect();
    assert_eq!(
        events,
        (1..=7)
            .map(|seq| format!("[INFO] event {seq}"))
            .collect::<Vec<_>>(),
        "{shown}"
    );
    assert_eq!(
        sink.messages,
        vec![
            "connection lost, reconnecting (1/5)…",
            "connection lost, reconnecting (2/5)…"
        ]
    );
    assert_eq!(connector.connects, 3);
}

#[tokio::test]
async fn reconnect_gives_up_after_the_policy_and_says_how_to_attach() {
    let mut connector = FakeConnector {
        scripts: VecDeque::from([script(|mut agent| {
            Box::pin(async move {
                agent.handshake(&agent_hello()).await;
                agent.write(&event(0, 8)).await;
                agent.exit(None, "");
            })
        })]),
        connects: 0,
    };
    let first = connector.connect().await.unwrap();
    let mut sink = Recorder::new();
    let error = follow(
        &mut connector,
        first,
        Request::Run(Default::default()),
        &sink.feed,
        &instant_policy(),
        &hints(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.exit_code(), 3);
    assert!(
        matches!(error, CtlError::GaveUp { attempts: 5, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .ends_with("backup-orchestrator-ctl attach forge"),
        "{error}"
    );
    sink.drain();
    assert_eq!(sink.messages.len(), 5);
    assert_eq!(sink.messages[4], "connection lost, reconnecting (5/5)…");
}

#[tokio::test]
async fn reconnect_is_not_attempted_before_the_run_said_its_id() {
    let mut connector = FakeConnector {
        scripts: VecDeque::from([script(|mut agent| {
            Box::pin(async move {
                agent.handshake(&agent_hello()).await;
                agent.exit(None, "");
            })
        })]),
        connects: 0,
    };
    let first = connector.connect().await.unwrap();
    let error = follow(
        &mut connector,
        first,
        Request::Run(Default::default()),
        &Recorder::new().feed,
        &instant_policy(),
        &hints(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CtlError::LostBeforeStart { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("backup-orchestrator-ctl status forge"),
        "{error}"
    );
    assert_eq!(connector.connects, 1);
}

#[tokio::test]
async fn reconnect_stops_at_once_on_a_host_key_problem() {
    struct Refusing {
        first: Option<Script>,
    }
    impl Connect for Refusing {
        async fn connect(&mut self) -> Result<Session, CtlError> {
            if let Some(script) = self.first.take() {
                let (channel, agent) = pair();
                tokio::spawn(script(agent));
                return Ok(start(channel, &context(), Duration::from_secs(5)).await?);
            }
            Err(crate::remote::RemoteFailure::ExecRefused {
                host: "forge".into(),
            }
            .into())
        }
    }
    let mut connector = Refusing {
        first: script(|mut agent| {
            Box::pin(async move {
                agent.handshake(&agent_hello()).await;
                agent.write(&event(0, 8)).await;
                agent.exit(None, "");
            })
        }),
    };
    let first = connector.connect().await.unwrap();
    let mut sink = Recorder::new();
    let error = follow(
        &mut connector,
        first,
        Request::Run(Default::default()),
        &sink.feed,
        &instant_policy(),
        &hints(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CtlError::Remote(_)), "{error}");
    sink.drain();
    assert_eq!(sink.messages.len(), 1);
}
