//! A fleet of one, end to end against the in-memory agent: the display gets the host's events,
//! its summary or its failure, and the exit code comes back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backup_orchestrator_proto::event::{RunFinished, RunStarted};
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Reply, Request, Summary};
use backup_orchestrator_render::{HostFailure, Reporter, error_chain};

use super::*;
use crate::hints::Hints;
use crate::remote::{RemoteContext, RemoteFailure};
use crate::session::fake::{agent_hello, pair};
use crate::session::{Session, start};

/// What the display was told, in order.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn push(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }
    fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Reporter for Calls {
    fn event(&mut self, host: &str, envelope: &Envelope) -> std::io::Result<()> {
        self.push(format!("event {host} {}", envelope.seq));
        Ok(())
    }
    fn message(&mut self, host: &str, _level: LogLevel, text: &str) -> std::io::Result<()> {
        self.push(format!("message {host} {text}"));
        Ok(())
    }
    fn finish(&mut self, host: &str, summary: &Summary) -> std::io::Result<()> {
        self.push(format!("finish {host} {}", summary.exit_code));
        Ok(())
    }
    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> std::io::Result<()> {
        self.push(format!(
            "failed {host} {} {}",
            failure.exit_code,
            error_chain(failure.error)
        ));
        Ok(())
    }
    fn done(&mut self) -> std::io::Result<()> {
        self.push("done".into());
        Ok(())
    }
}

fn hints() -> Hints {
    Hints {
        host: "forge".into(),
        attach: "backup-orchestrator-ctl attach forge".into(),
        status: "backup-orchestrator-ctl status forge".into(),
    }
}

fn context() -> RemoteContext {
    RemoteContext {
        host: "forge".into(),
        user: "deploy".into(),
        agent_path: "backup-orchestrator".into(),
    }
}

fn envelope(seq: u64, event: Event) -> Reply {
    Reply::Event(Envelope {
        seq,
        at_ms: 0,
        elapsed_ms: 0,
        event,
    })
}

async fn no_confirm(_outcomes: Vec<CheckOutcome>) -> Result<(), CtlError> {
    Ok(())
}

/// An agent that runs a short run ending with `exit_code` (its task runs on the fleet's
/// `LocalSet`, as the host tasks do).
struct OneRun {
    exit_code: i32,
}

impl Connect for OneRun {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        let (channel, mut agent) = pair();
        let mut summary = backup_orchestrator_render::demo_events()
            .into_iter()
            .find_map(|e| match e.event {
                Event::RunFinished(f) => Some(f.summary),
                _ => None,
            })
            .unwrap();
        summary.exit_code = self.exit_code;
        tokio::task::spawn_local(async move {
            agent.handshake(&agent_hello()).await;
            let started = RunStarted {
                run_id: "run-1".into(),
                host: "forge".into(),
                started_at: "2025-11-03T02:00:00Z".into(),
                agent: "backup-orchestrator 0.1.0".into(),
                dry_run: false,
                plan: Default::default(),
            };
            agent.write(&envelope(0, Event::RunStarted(started))).await;
            let finished = Event::RunFinished(RunFinished { summary });
            agent.write(&envelope(1, finished)).await;
            agent.exit(Some(0), "");
        });
        Ok(start(channel, &context(), Duration::from_secs(5)).await?)
    }
}

/// A host whose sudo wants a password.
struct NoSudo;

impl Connect for NoSudo {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        Err(RemoteFailure::SudoPassword {
            host: "forge".into(),
            user: "deploy".into(),
            sudoers_line: "deploy ALL=(root) NOPASSWD: /x serve".into(),
            note: String::new(),
        }
        .into())
    }
}

#[tokio::test]
async fn fleet_of_one_shows_the_run_and_returns_its_verdict() {
    let calls = Calls::default();
    let job = HostJob::new(
        OneRun { exit_code: 2 },
        Request::Run(Default::default()),
        hints(),
    );
    let codes = run(vec![job], Box::new(calls.clone()), 10, no_confirm)
        .await
        .unwrap();
    assert_eq!(codes, [2]);
    assert_eq!(
        calls.list(),
        ["event forge 0", "event forge 1", "finish forge 2", "done"]
    );
}

#[tokio::test]
async fn fleet_of_one_reports_a_host_that_cannot_run_with_its_exit_code() {
    let calls = Calls::default();
    let job = HostJob::new(NoSudo, Request::Run(Default::default()), hints());
    let run_may_exist = Arc::clone(&job.run_may_exist);
    let codes = run(vec![job], Box::new(calls.clone()), 10, no_confirm)
        .await
        .unwrap();
    assert_eq!(codes, [3]);
    let list = calls.list();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list[0].starts_with("failed forge 3 forge: sudo wants a password for deploy"),
        "{list:?}"
    );
    assert_eq!(list[1], "done");
    assert!(
        !run_may_exist.load(std::sync::atomic::Ordering::SeqCst),
        "nothing reached the agent: Ctrl-C must not suggest attaching"
    );
}

#[tokio::test]
async fn fleet_checks_every_host_then_confirms_once_then_runs_the_ones_that_can() {
    let calls = Calls::default();
    let mut second = hints();
    second.host = "nas01".into();
    let jobs = vec![
        HostJob::new(
            Either::Run(OneRun { exit_code: 1 }),
            Request::Run(Default::default()),
            hints(),
        ),
        HostJob::new(Either::NoSudo, Request::Run(Default::default()), second),
    ];
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    let codes = run(jobs, Box::new(calls.clone()), 1, |outcomes| async move {
        seen.lock().unwrap().extend(outcomes);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(codes, [1, 3]);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(
        (asked[0].host.as_str(), asked[0].error.is_none()),
        ("forge", true)
    );
    assert!(
        asked[1]
            .error
            .as_deref()
            .unwrap()
            .contains("sudo wants a password")
    );
    assert_eq!(calls.list().last().unwrap(), "done");
}

#[tokio::test]
async fn fleet_starts_nothing_when_the_confirmation_says_no() {
    let calls = Calls::default();
    let job = HostJob::new(
        OneRun { exit_code: 0 },
        Request::Run(Default::default()),
        hints(),
    );
    let run_may_exist = Arc::clone(&job.run_may_exist);
    let error = run(vec![job], Box::new(calls.clone()), 10, |_| async {
        Err(CtlError::NotConfirmed {
            host: "forge".into(),
        })
    })
    .await
    .unwrap_err();
    assert!(matches!(error, CtlError::NotConfirmed { .. }));
    assert!(calls.list().is_empty(), "{:?}", calls.list());
    assert!(!run_may_exist.load(std::sync::atomic::Ordering::SeqCst));
}

/// Two kinds of host in one fleet.
enum Either {
    Run(OneRun),
    NoSudo,
}

impl Connect for Either {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        match self {
            Either::Run(run) => run.connect().await,
            Either::NoSudo => NoSudo.connect().await,
        }
    }
}
