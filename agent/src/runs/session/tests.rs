//! The session against a fake run source: handshake, each request, and how it ends.

use std::collections::VecDeque;

use backup_orchestrator_proto::event::{Log, RunFinished};
use backup_orchestrator_proto::{LogLevel, RunState, Summary};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

/// A run source with one canned run and no run in progress.
#[derive(Default)]
struct FakeRuns {
    events: Vec<Envelope>,
    abandoned: bool,
    /// After its events the run goes on quietly (no end).
    quiet: bool,
    requests: Vec<String>,
}

struct FakeEvents {
    events: VecDeque<Envelope>,
    abandoned: bool,
    quiet: bool,
}

impl EventSource for FakeEvents {
    async fn next(&mut self) -> Result<Option<Envelope>, Refusal> {
        match self.events.pop_front() {
            Some(e) => Ok(Some(e)),
            None if self.quiet => std::future::pending().await,
            None if self.abandoned => Err(refusal(RefusalKind::Internal, "run abandoned")),
            None => Ok(None),
        }
    }
}

impl RunSource for FakeRuns {
    type Events = FakeEvents;

    async fn run(&mut self, options: RunOptions) -> Result<FakeEvents, Refusal> {
        self.requests
            .push(format!("run dry_run={}", options.dry_run));
        Ok(FakeEvents {
            events: self.events.clone().into(),
            abandoned: self.abandoned,
            quiet: self.quiet,
        })
    }

    async fn attach(&mut self, run_id: Option<String>) -> Result<FakeEvents, Refusal> {
        self.requests.push(format!("attach {run_id:?}"));
        self.run(RunOptions::default()).await
    }

    async fn status(&mut self) -> Result<StatusReport, Refusal> {
        Ok(StatusReport {
            state: RunState::None,
            run_id: None,
            started_at: None,
            units_done: 0,
            units_total: 0,
            running: vec![],
            summary: None,
        })
    }

    async fn cancel(&mut self, _stop_units: bool) -> Result<String, Refusal> {
        Err(refusal(RefusalKind::NoRun, "no backup run in progress"))
    }

    async fn logs(&mut self, unit: String, lines: u32) -> Result<UnitLogs, Refusal> {
        self.requests.push(format!("logs {unit} {lines}"));
        if unit == "sshd.service" {
            return Err(refusal(RefusalKind::NotInPlan, "not in the plan"));
        }
        Ok(UnitLogs {
            unit,
            invocation_id: None,
            lines: vec!["one".into()],
        })
    }

    async fn history(&mut self) -> Result<RunHistory, Refusal> {
        Ok(RunHistory::default())
    }
}

fn summary() -> Summary {
    Summary {
        total_services: 1,
        successful: 1,
        failed: 0,
        timed_out: 0,
        skipped: 0,
        failure_rate_percent: 0,
        exit_code: 0,
        warnings: 0,
        run_id: "20251103T120000Z-ab12".into(),
        host: "h".into(),
        started_at: "2025-11-03T12:00:00Z".into(),
        duration_ms: 3,
        dry_run: false,
        cancelled: false,
        critical_reason: None,
        units: vec![],
    }
}

fn run_events() -> Vec<Envelope> {
    let mut events: Vec<Envelope> = (0..3)
        .map(|seq| Envelope {
            seq,
            at_ms: seq,
            elapsed_ms: seq,
            event: Event::Log(Log {
                level: LogLevel::Info,
                message: format!("line {seq}"),
            }),
        })
        .collect();
    events.push(Envelope {
        seq: 3,
        at_ms: 3,
        elapsed_ms: 3,
        event: Event::RunFinished(RunFinished { summary: summary() }),
    });
    events
}

/// Plays the controller: sends `hello` and then `request` (if any), returns what came back.
async fn session(
    source: &mut FakeRuns,
    hello: Hello,
    request: Option<Request>,
) -> (SessionEnd, Hello, Vec<Reply>) {
    let (controller, agent) = tokio::io::duplex(64 * 1024);
    let (agent_in, agent_out) = tokio::io::split(agent);
    let (mut from_agent, mut to_agent) = tokio::io::split(controller);
    let mut frames = Vec::new();
    frames.extend(backup_orchestrator_proto::codec::encode_frame(&hello).unwrap());
    if let Some(request) = &request {
        frames.extend(backup_orchestrator_proto::codec::encode_frame(request).unwrap());
    }
    to_agent.write_all(&frames).await.unwrap();
    // The controller has said all it will: the agent reads EOF after these frames.
    to_agent.shutdown().await.unwrap();
    let end = serve(agent_in, agent_out, source).await;
    let mut bytes = Vec::new();
    // The agent's halves are dropped when `serve` returns: read to EOF.
    read_available(&mut from_agent, &mut bytes).await;
    let mut reader = FramedRead::new(&bytes[..], MessageCodec::<Hello>::new());
    let their_hello = reader.next().await.unwrap().unwrap();
    let mut reader = reader.map_decoder(MessageCodec::retype::<Reply>);
    let mut replies = Vec::new();
    while let Some(reply) = reader.next().await {
        replies.push(reply.unwrap());
    }
    (end, their_hello, replies)
}

async fn read_available(from: &mut tokio::io::ReadHalf<DuplexStream>, into: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(std::time::Duration::from_millis(50), from.read(&mut chunk))
            .await
        {
            Ok(Ok(n)) if n > 0 => into.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

fn controller_hello() -> Hello {
    Hello::new(Role::Controller, "backup-orchestrator-ctl 0.1.0")
}

#[tokio::test]
async fn serve_sends_its_hello_and_exits_3_when_the_major_version_differs() {
    let mut source = FakeRuns::default();
    let mut hello = controller_hello();
    hello.protocol.major += 1;
    let (end, theirs, replies) = session(&mut source, hello, Some(Request::Status)).await;
    assert!(matches!(end, SessionEnd::Incompatible(_)), "{end:?}");
    assert_eq!(end.exit_code(), 3);
    assert_eq!(theirs.role, Role::Agent);
    assert_eq!(theirs.software, SOFTWARE);
    assert!(replies.is_empty(), "{replies:?}");
    assert!(source.requests.is_empty());
}

#[tokio::test]
async fn serve_refuses_an_unknown_request_as_unsupported() {
    let mut source = FakeRuns::default();
    let (end, _, replies) = session(&mut source, controller_hello(), Some(Request::Unknown)).await;
    assert_eq!(end.exit_code(), 0);
    match &replies[..] {
        [Reply::Refused(r)] => {
            assert_eq!(r.kind, RefusalKind::Unsupported);
            assert_eq!(r.exit_code, 3);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn serve_reports_no_run_on_status_when_nothing_ran() {
    let mut source = FakeRuns::default();
    let (_, _, replies) = session(&mut source, controller_hello(), Some(Request::Status)).await;
    match &replies[..] {
        [Reply::Status(report)] => assert_eq!(report.state, RunState::None),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn serve_refuses_cancel_when_no_run_is_going() {
    let mut source = FakeRuns::default();
    let (_, _, replies) = session(
        &mut source,
        controller_hello(),
        Some(Request::Cancel { stop_units: false }),
    )
    .await;
    assert!(
        matches!(&replies[..], [Reply::Refused(r)] if r.kind == RefusalKind::NoRun && r.exit_code == 3),
        "{replies:?}"
    );
}

#[tokio::test]
async fn serve_streams_a_runs_events_until_run_finished() {
    let mut source = FakeRuns {
        events: run_events(),
        ..FakeRuns::default()
    };
    let request = Request::Run(RunOptions::default());
    let (end, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    assert!(matches!(end, SessionEnd::Done));
    let seqs: Vec<u64> = replies
        .iter()
        .map(|r| match r {
            Reply::Event(e) => e.seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
}

#[tokio::test]
async fn serve_attach_sends_only_events_after_the_given_seq_and_always_the_end() {
    let mut source = FakeRuns {
        events: run_events(),
        ..FakeRuns::default()
    };
    let request = Request::Attach {
        run_id: None,
        after_seq: Some(1),
    };
    let (_, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    let seqs: Vec<u64> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Event(e) => Some(e.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [2, 3]);

    let request = Request::Attach {
        run_id: None,
        after_seq: Some(3),
    };
    let (_, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    assert!(
        matches!(&replies[..], [Reply::Event(e)] if matches!(e.event, Event::RunFinished(_))),
        "{replies:?}"
    );
}

#[tokio::test]
async fn serve_ends_an_abandoned_run_with_a_refusal() {
    let mut source = FakeRuns {
        events: run_events()[..2].to_vec(),
        abandoned: true,
        ..FakeRuns::default()
    };
    let request = Request::Attach {
        run_id: None,
        after_seq: None,
    };
    let (_, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    assert_eq!(replies.len(), 3);
    assert!(matches!(&replies[2], Reply::Refused(r) if r.exit_code == 3));
}

#[tokio::test]
async fn serve_answers_logs_and_passes_on_a_not_in_plan_refusal_with_exit_64() {
    let mut source = FakeRuns::default();
    let request = Request::Logs {
        unit: "syncoid-a.service".into(),
        lines: 5,
    };
    let (_, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    assert!(
        matches!(&replies[..], [Reply::Logs(l)] if l.unit == "syncoid-a.service" && l.lines == ["one"]),
        "{replies:?}"
    );
    let request = Request::Logs {
        unit: "sshd.service".into(),
        lines: 5,
    };
    let (end, _, replies) = session(&mut source, controller_hello(), Some(request)).await;
    assert_eq!(end.exit_code(), 0);
    assert!(
        matches!(&replies[..], [Reply::Refused(r)] if r.kind == RefusalKind::NotInPlan && r.exit_code == 64),
        "{replies:?}"
    );
    assert_eq!(
        source.requests,
        ["logs syncoid-a.service 5", "logs sshd.service 5"]
    );
}

#[tokio::test]
async fn serve_answers_history() {
    let mut source = FakeRuns::default();
    let (_, _, replies) = session(&mut source, controller_hello(), Some(Request::History)).await;
    assert!(
        matches!(&replies[..], [Reply::History(h)] if h.runs.is_empty()),
        "{replies:?}"
    );
}

#[tokio::test]
async fn serve_ends_quietly_when_the_controller_hangs_up_before_a_request() {
    let mut source = FakeRuns::default();
    let (end, _, replies) = session(&mut source, controller_hello(), None).await;
    assert!(matches!(end, SessionEnd::PeerGone), "{end:?}");
    assert!(replies.is_empty());
    assert!(source.requests.is_empty());
}

#[tokio::test]
async fn serve_ends_quietly_when_its_output_is_closed() {
    let mut source = FakeRuns {
        events: run_events(),
        ..FakeRuns::default()
    };
    let (controller, agent) = tokio::io::duplex(64 * 1024);
    let (agent_in, agent_out) = tokio::io::split(agent);
    let (from_agent, mut to_agent) = tokio::io::split(controller);
    let mut frames = backup_orchestrator_proto::codec::encode_frame(&controller_hello()).unwrap();
    frames.extend(
        backup_orchestrator_proto::codec::encode_frame(&Request::Run(RunOptions::default()))
            .unwrap(),
    );
    to_agent.write_all(&frames).await.unwrap();
    // The controller is gone entirely: both of its halves dropped.
    drop(from_agent);
    drop(to_agent);
    let end = serve(agent_in, agent_out, &mut source).await;
    assert!(matches!(end, SessionEnd::PeerGone), "{end:?}");
    assert_eq!(end.exit_code(), 0);
}

#[tokio::test(start_paused = true)]
async fn serve_ends_when_no_hello_comes_within_ten_seconds() {
    let mut source = FakeRuns::default();
    let (controller, agent) = tokio::io::duplex(64 * 1024);
    let (agent_in, agent_out) = tokio::io::split(agent);
    let started = tokio::time::Instant::now();
    let end = serve(agent_in, agent_out, &mut source).await;
    assert!(matches!(end, SessionEnd::NoHello), "{end:?}");
    assert_eq!(end.exit_code(), 3);
    assert_eq!(started.elapsed(), HELLO_TIMEOUT);
    drop(controller);
}

#[tokio::test]
async fn serve_ends_at_once_when_the_controller_goes_away_while_a_quiet_run_is_followed() {
    let mut source = FakeRuns {
        events: run_events()[..2].to_vec(),
        quiet: true,
        ..FakeRuns::default()
    };
    let request = Request::Attach {
        run_id: None,
        after_seq: None,
    };
    let ended = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        session(&mut source, controller_hello(), Some(request)),
    )
    .await;
    let (end, _, replies) = ended.expect("serve went on following after its input closed");
    assert!(matches!(end, SessionEnd::PeerGone), "{end:?}");
    // What was there was sent before the end.
    assert_eq!(replies.len(), 2, "{replies:?}");
}
