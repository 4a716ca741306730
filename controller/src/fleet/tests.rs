//! A fleet of one, end to end against the in-memory agent: the display gets the host's events,
//! its summary or its failure, and the exit code comes back.

use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backup_orchestrator_proto::event::{RunFinished, RunStarted};
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Reply, Request, Summary};
use backup_orchestrator_render::{HostFailure, Reporter, error_chain};
use tokio::sync::Notify;

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

type NoQuestion = fn(Vec<CheckOutcome>) -> std::future::Ready<Result<(), CtlError>>;

/// `--yes`: nobody is asked, each host starts when its own check passes.
fn when_checked() -> Start<NoQuestion> {
    Start::WhenChecked
}

/// An agent that runs a short run ending with `exit_code` (its task runs on the fleet's
/// `LocalSet`, as the host tasks do), then rings `done` when there is one.
struct OneRun {
    exit_code: i32,
    done: Option<Rc<Notify>>,
}

impl OneRun {
    fn ending(exit_code: i32) -> OneRun {
        OneRun {
            exit_code,
            done: None,
        }
    }
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
        let done = self.done.clone();
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
            if let Some(done) = done {
                done.notify_one();
            }
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
    let job = HostJob::new(OneRun::ending(2), Request::Run(Default::default()), hints());
    let codes = run(vec![job], Box::new(calls.clone()), 10, when_checked())
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
    let codes = run(vec![job], Box::new(calls.clone()), 10, when_checked())
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
            Either::Run(OneRun::ending(1)),
            Request::Run(Default::default()),
            hints(),
        ),
        HostJob::new(Either::NoSudo, Request::Run(Default::default()), second),
    ];
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    let confirm = |outcomes| async move {
        seen.lock().unwrap().extend(outcomes);
        Ok(())
    };
    let codes = run(
        jobs,
        Box::new(calls.clone()),
        1,
        Start::AfterConfirming(confirm),
    )
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
    let job = HostJob::new(OneRun::ending(0), Request::Run(Default::default()), hints());
    let run_may_exist = Arc::clone(&job.run_may_exist);
    let refuse = |_| async {
        Err(CtlError::NotConfirmed {
            host: "forge".into(),
        })
    };
    let error = run(
        vec![job],
        Box::new(calls.clone()),
        10,
        Start::AfterConfirming(refuse),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, CtlError::NotConfirmed { .. }));
    assert!(calls.list().is_empty(), "{:?}", calls.list());
    assert!(!run_may_exist.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn without_a_question_a_host_runs_without_waiting_for_a_slower_hosts_check() {
    // nas01's check ends only once forge's run is over: had forge waited for every check, as
    // it does before a confirmation, neither would ever end.
    let forge_done = Rc::new(Notify::new());
    let mut second = hints();
    second.host = "nas01".into();
    let jobs = vec![
        HostJob::new(
            Either::Run(OneRun {
                exit_code: 1,
                done: Some(Rc::clone(&forge_done)),
            }),
            Request::Run(Default::default()),
            hints(),
        ),
        HostJob::new(
            Either::NoSudoAfter(forge_done),
            Request::Run(Default::default()),
            second,
        ),
    ];
    let calls = Calls::default();
    let work = run(jobs, Box::new(calls.clone()), 10, when_checked());
    let codes = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("forge waited for nas01's check")
        .unwrap();
    assert_eq!(codes, [1, 3]);
    let list = calls.list();
    let forge_finished = list.iter().position(|c| c == "finish forge 1");
    let nas_failed = list.iter().position(|c| c.starts_with("failed nas01 3"));
    assert!(
        forge_finished < nas_failed && nas_failed.is_some(),
        "{list:?}"
    );
}

#[tokio::test]
async fn without_a_question_parallel_one_runs_each_host_in_turn_on_one_permit() {
    // One permit, held from a host's connect to its end: the second host connects only after
    // the first finished, and nothing deadlocks on the permit it already holds.
    let first_done = Rc::new(Notify::new());
    let mut second = hints();
    second.host = "nas01".into();
    let jobs = vec![
        HostJob::new(
            Either::Run(OneRun {
                exit_code: 0,
                done: Some(Rc::clone(&first_done)),
            }),
            Request::Run(Default::default()),
            hints(),
        ),
        HostJob::new(
            Either::RunAfter(first_done, OneRun::ending(2)),
            Request::Run(Default::default()),
            second,
        ),
    ];
    let calls = Calls::default();
    let work = run(jobs, Box::new(calls.clone()), 1, when_checked());
    let codes = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("the fleet stalled on its one permit")
        .unwrap();
    assert_eq!(codes, [0, 2]);
    assert_eq!(
        calls.list(),
        [
            "event forge 0",
            "event forge 1",
            "finish forge 0",
            "event nas01 0",
            "event nas01 1",
            "finish nas01 2",
            "done"
        ]
    );
}

/// The kinds of host in one fleet.
enum Either {
    Run(OneRun),
    NoSudo,
    /// Its check fails with [`NoSudo`] once the notify rings.
    NoSudoAfter(Rc<Notify>),
    /// Connects once the notify rings; must not be asked to connect before.
    RunAfter(Rc<Notify>, OneRun),
}

impl Connect for Either {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        match self {
            Either::Run(run) => run.connect().await,
            Either::NoSudo => NoSudo.connect().await,
            Either::NoSudoAfter(ready) => {
                ready.notified().await;
                NoSudo.connect().await
            }
            Either::RunAfter(ready, run) => {
                let rang = tokio::time::timeout(Duration::ZERO, ready.notified()).await;
                assert!(
                    rang.is_ok(),
                    "connected while the other host held the permit"
                );
                run.connect().await
            }
        }
    }
}
