use backup_orchestrator_proto::event::{RunFinished, RunStarted};
use backup_orchestrator_proto::{Envelope, Event, Refusal, RefusalKind, exit_codes};

use super::fake::*;
use super::follow::{RunEnd, RunTracker};
use super::*;
use crate::error::CtlError;

pub(crate) fn context() -> RemoteContext {
    RemoteContext {
        host: "forge".into(),
        user: "deploy".into(),
        agent_path: "backup-orchestrator".into(),
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
    let mut seqs = Vec::new();
    let mut tracker = RunTracker::default();
    let end = session
        .follow(&mut tracker, &mut |envelope| seqs.push(envelope.seq))
        .await
        .unwrap();
    match end {
        RunEnd::Finished(summary) => assert_eq!(summary.exit_code, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(seqs, vec![0, 1]);
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
        .follow(&mut RunTracker::default(), &mut |_| {})
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
        hello.protocol.minor = 0;
        hello.software = "backup-orchestrator 2.0.0".into();
        agent.write(&hello).await;
    });
    let error = start(channel, &context(), Duration::from_secs(5))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert_eq!(CtlError::from(error).exit_code(), 3);
    assert!(message.starts_with("forge: "), "{message}");
    assert!(
        message.contains("protocol 2.0 (backup-orchestrator 2.0.0)"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "protocol {} ({})",
            backup_orchestrator_proto::PROTOCOL_VERSION,
            software()
        )),
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
    assert_eq!(CtlError::from(error).exit_code(), 3);
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
        matches!(&error, SessionError::Remote(f) if matches!(**f, RemoteFailure::SudoPassword { .. }))
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
    assert_eq!(CtlError::from(error).exit_code(), 3);
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
        matches!(&error, SessionError::Remote(f) if matches!(**f, RemoteFailure::NoHello { .. })),
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
    let error = session.follow(&mut tracker, &mut |_| {}).await.unwrap_err();
    assert!(matches!(error, SessionError::Lost { .. }), "{error:?}");
    assert_eq!(
        tracker.resume_request(),
        Some(Request::Attach {
            run_id: Some("run-1".into()),
            after_seq: Some(0)
        })
    );
}
