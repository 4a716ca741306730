//! Where the engine's events go ([`RunEventSink`]s), and [`execute_plan`], the one place the engine
//! is called from.
//!
//! - [`RenderSink`]: a dry run on this terminal, rendered as it happens;
//! - [`CollectSink`]: a dry run kept in memory (`serve`, the confirmation preview);
//! - [`OwnedSink`]: the real run inside its unit: event log on disk plus the journal;
//! - [`HoldFinish`]: in front of one of those, keeps `RunFinished` until the run's end is done.

use std::cell::RefCell;
use std::io;
use std::time::{Instant, SystemTime};

use backup_orchestrator_proto::event::{Log, RunStarted};
use backup_orchestrator_proto::{Envelope, Event, LogLevel, Summary};
use backup_orchestrator_render::{PipeState, Renderer};

use crate::engine::{self, Cancel, EngineOptions, RunEventSink};
use crate::identity::hostname;
use crate::journal::Journal;
use crate::monitoring::RunMonitor;
use crate::plan::Plan;
use crate::runlog::{self, Layout, LogWriter, RunLogError, Stamper};
use crate::systemd::{SystemdBus, SystemdConnection, SystemdError};
use backup_orchestrator_render::error_chain;

/// How a run is executed in this process.
#[derive(Debug)]
pub struct Execution<'a> {
    pub plan: &'a Plan,
    pub run_id: &'a str,
    pub dry_run: bool,
    pub stop_units_on_timeout: bool,
    pub started_at: SystemTime,
}

/// Runs the engine to its summary, emitting into `sink` (`RunStarted` first, `RunFinished` last).
pub async fn execute_plan(
    execution: &Execution<'_>,
    systemd: &SystemdBus,
    sink: &mut dyn RunEventSink,
    cancel: Cancel,
) -> Summary {
    engine::execute(execution.plan, systemd, &execution.options(), sink, cancel).await
}

impl Execution<'_> {
    fn options(&self) -> EngineOptions {
        EngineOptions {
            dry_run: self.dry_run,
            stop_units_on_timeout: self.stop_units_on_timeout,
            host: hostname(),
            run_id: self.run_id.to_owned(),
            started_at: humantime::format_rfc3339_seconds(self.started_at).to_string(),
        }
    }

    /// The `RunStarted` event [`execute_plan`] will begin with.
    pub fn run_started(&self) -> RunStarted {
        engine::run_started(self.plan, &self.options())
    }
}

/// A dry run: the engine on `plan` without starting anything (no unit, no lock, no log), its
/// events into `sink`. Only the monitoring textfile, if the plan has one, is refreshed (marked
/// dry); no hook fires.
pub async fn dry_run<S: RunEventSink>(
    plan: &Plan,
    stop_units_on_timeout: bool,
    systemd: &SystemdBus,
    sink: &RefCell<S>,
) -> Summary {
    let now = SystemTime::now();
    let run_id = runlog::new_run_id(now);
    let execution = Execution {
        plan,
        run_id: &run_id,
        dry_run: true,
        stop_units_on_timeout,
        started_at: now,
    };
    let mut held = HoldFinish::new(sink);
    let summary = execute_plan(&execution, systemd, &mut held, Cancel::new()).await;
    let monitor = RunMonitor::new(&plan.monitoring, Layout::system().monitoring_path());
    for warning in monitor.finished(&summary, false).await {
        held.warn(warning);
    }
    held.release();
    summary
}

/// Passes events on to a shared sink, but holds `RunFinished` back until [`HoldFinish::release`]:
/// what the run's end does after the engine (textfile, hooks) reports its warnings before it, so
/// that followers, who stop at `RunFinished`, see them.
#[derive(Debug)]
pub struct HoldFinish<'s, S> {
    inner: &'s RefCell<S>,
    held: Option<Event>,
}

impl<'s, S: RunEventSink> HoldFinish<'s, S> {
    pub fn new(inner: &'s RefCell<S>) -> HoldFinish<'s, S> {
        HoldFinish { inner, held: None }
    }

    /// Emits a warning line now (before a held `RunFinished`).
    pub fn warn(&self, message: String) {
        self.inner.borrow_mut().emit(Event::Log(Log {
            level: LogLevel::Warn,
            message,
        }));
    }

    /// Emits the held `RunFinished`, if any.
    pub fn release(&mut self) {
        if let Some(event) = self.held.take() {
            self.inner.borrow_mut().emit(event);
        }
    }
}

impl<S: RunEventSink> RunEventSink for HoldFinish<'_, S> {
    fn emit(&mut self, event: Event) {
        if matches!(event, Event::RunFinished(_)) {
            self.held = Some(event);
        } else {
            self.inner.borrow_mut().emit(event);
        }
    }
}

/// Connects to systemd for the engine, in a process that needs nothing else of it (a dry run on
/// this terminal, the run inside its unit).
pub async fn connect_engine() -> Result<SystemdBus, SystemdError> {
    SystemdBus::new(&SystemdConnection::connect().await?).await
}

/// Renders a dry run as it happens.
#[derive(Debug)]
pub struct RenderSink<'r> {
    stamper: Stamper,
    renderer: &'r mut Renderer,
    /// A closed stdout ends the display, not the run (render's broken-pipe policy).
    pipe: PipeState,
    /// The first other write error: later events are not rendered.
    pub error: Option<io::Error>,
}

impl<'r> RenderSink<'r> {
    pub fn new(renderer: &'r mut Renderer, started: Instant) -> RenderSink<'r> {
        RenderSink {
            stamper: Stamper::new(started),
            renderer,
            pipe: PipeState::default(),
            error: None,
        }
    }
}

impl RunEventSink for RenderSink<'_> {
    fn emit(&mut self, event: Event) {
        let envelope = self.stamper.stamp(event);
        if self.error.is_none()
            && let Err(e) = self.pipe.write(|| self.renderer.event(&envelope))
        {
            self.error = Some(e);
        }
    }
}

/// Keeps a run's envelopes in memory.
#[derive(Debug)]
pub struct CollectSink {
    stamper: Stamper,
    pub events: Vec<Envelope>,
}

impl CollectSink {
    pub fn new(started: Instant) -> CollectSink {
        CollectSink {
            stamper: Stamper::new(started),
            events: Vec::new(),
        }
    }
}

impl RunEventSink for CollectSink {
    fn emit(&mut self, event: Event) {
        self.events.push(self.stamper.stamp(event));
    }
}

/// The run inside its transient unit: each event appended to the event log (followers read it
/// live) and logged to the journal with the run id.
#[derive(Debug)]
pub struct OwnedSink {
    writer: LogWriter,
    journal: Journal,
    /// The last failure to append: the run goes on (its units matter more than its log); the log
    /// says so itself when it takes appends again (see `runlog/writer.rs`).
    error: Option<RunLogError>,
}

impl OwnedSink {
    pub fn new(writer: LogWriter, journal: Journal) -> OwnedSink {
        OwnedSink {
            writer,
            journal,
            error: None,
        }
    }

    /// Waits a bounded time for journald to take the run's last entries; returns how many
    /// entries it did not get (nothing is logged to the journal after this).
    pub fn finish_journal(&mut self) -> u64 {
        self.journal.finish();
        self.journal.dropped()
    }

    /// Why the log is missing events at the end of the run, if it is.
    pub fn incomplete(&mut self) -> Option<RunLogError> {
        let error = self.error.take();
        if self.writer.is_incomplete() {
            error
        } else {
            None
        }
    }

    /// A line of the run's own (not the engine's), e.g. why it could not start.
    pub fn log(&mut self, level: LogLevel, message: String) {
        self.emit(Event::Log(Log { level, message }));
    }
}

impl RunEventSink for OwnedSink {
    fn emit(&mut self, event: Event) {
        // The journal first: it gets every event, whatever happens to the log.
        self.journal.event(&event);
        let was_incomplete = self.writer.is_incomplete();
        if let Err(e) = self.writer.append(event) {
            if !was_incomplete {
                let message = format!(
                    "event log incomplete, the run goes on (its events are in the journal): {}",
                    error_chain(&e)
                );
                self.journal.error(&message);
                tracing::error!("{message}");
            }
            self.error = Some(e);
        }
    }
}
