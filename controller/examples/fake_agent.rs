//! A stand-in for `backup-orchestrator serve`, for trying the controller against real SSH hosts
//! before the agent is ready: `testhosts up GROUP N --agent target/debug/examples/fake_agent`.
//!
//! It speaks the real protocol (proto's codec and Hello) and plays `demo_events()` as a "run"
//! whose progress is a function of the time since it started, recorded in a state file. So, like
//! the real agent, the run does not depend on the session: a second session can `attach` (from
//! any `after_seq`), ask its `status` or `cancel` it, and a second `Run` is refused while one is in
//! progress. Nothing is started on the host.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backup_orchestrator_proto::codec::encode_frame;
use backup_orchestrator_proto::{
    Envelope, Event, Hello, MessageCodec, Refusal, RefusalKind, Reply, Request, Role, RunState,
    StatusReport, exit_codes,
};
use futures_util::StreamExt;
use tokio_util::codec::FramedRead;

const STATE: &str = "/tmp/fake-agent-run";
const STEP_MS: u64 = 300;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn write(reply: &impl serde::Serialize) -> std::io::Result<()> {
    let frame = encode_frame(reply).map_err(std::io::Error::other)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&frame)?;
    stdout.flush()
}

/// The start time of the current or last run, if any.
fn started_ms() -> Option<u64> {
    std::fs::read_to_string(STATE).ok()?.trim().parse().ok()
}

fn events() -> Vec<Envelope> {
    backup_orchestrator_render::demo_events()
}

/// Streams the events of the run started at `start` after `after_seq`, as they come due.
async fn follow(start: u64, after_seq: Option<u64>) -> std::io::Result<()> {
    for (index, envelope) in events().into_iter().enumerate() {
        if after_seq.is_some_and(|after| envelope.seq <= after) {
            continue;
        }
        let due = start + index as u64 * STEP_MS;
        let now = now_ms();
        if due > now {
            tokio::time::sleep(Duration::from_millis(due - now)).await;
        }
        write(&Reply::Event(envelope))?;
    }
    Ok(())
}

fn running(start: u64) -> bool {
    now_ms() < start + events().len() as u64 * STEP_MS
}

fn main() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    if std::env::args().nth(1).as_deref() != Some("serve") {
        eprintln!("fake_agent: only `serve` is supported");
        std::process::exit(64);
    }
    let mut hellos = FramedRead::new(tokio::io::stdin(), MessageCodec::<Hello>::new());
    let Some(Ok(_theirs)) = hellos.next().await else {
        eprintln!("fake_agent: no Hello");
        std::process::exit(3);
    };
    write(&Hello::new(Role::Agent, "backup-orchestrator 0.1.0 (fake)"))?;
    let mut requests = hellos.map_decoder(MessageCodec::retype::<Request>);
    let Some(Ok(request)) = requests.next().await else {
        std::process::exit(3);
    };
    let refused = |kind, message: &str, exit_code| {
        write(&Reply::Refused(Refusal {
            kind,
            message: message.to_owned(),
            run_id: Some("fake-run".into()),
            started_at: None,
            exit_code,
        }))
    };
    match request {
        Request::Run(_) => {
            if started_ms().is_some_and(running) {
                return refused(
                    RefusalKind::RunInProgress,
                    "a run is already in progress",
                    exit_codes::COULD_NOT_RUN,
                );
            }
            let start = now_ms();
            std::fs::write(Path::new(STATE), start.to_string())?;
            follow(start, None).await
        }
        Request::Attach { after_seq, .. } => match started_ms() {
            Some(start) => follow(start, after_seq).await,
            None => refused(RefusalKind::NoRun, "no run yet", exit_codes::COULD_NOT_RUN),
        },
        Request::Status => {
            let report = match started_ms() {
                None => StatusReport {
                    state: RunState::None,
                    run_id: None,
                    started_at: None,
                    units_done: 0,
                    units_total: 0,
                    running: vec![],
                    summary: None,
                },
                Some(start) => {
                    let summary = events().into_iter().find_map(|e| match e.event {
                        Event::RunFinished(f) => Some(f.summary),
                        _ => None,
                    });
                    StatusReport {
                        state: if running(start) {
                            RunState::Running
                        } else {
                            RunState::Finished
                        },
                        run_id: Some("fake-run".into()),
                        started_at: None,
                        units_done: 0,
                        units_total: 15,
                        running: vec![],
                        summary: summary.filter(|_| !running(start)),
                    }
                }
            };
            write(&Reply::Status(report))
        }
        Request::Cancel { stop_units } => write(&Reply::Cancelled {
            run_id: "fake-run".into(),
            stop_units,
        }),
        Request::Unknown => refused(
            RefusalKind::Unsupported,
            "unknown request",
            exit_codes::USAGE,
        ),
    }
}
