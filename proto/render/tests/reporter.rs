//! The host-keyed `Reporter` seam: `RunReporter` shows a host's run exactly as a `Renderer`
//! labelled with the host does, says why a host failed, and follows the broken-pipe policy.

use std::error::Error;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use backup_orchestrator_proto::{Envelope, Event, LogLevel, Summary};
use backup_orchestrator_render::{
    HostFailure, OutputMode, RenderOptions, Renderer, Reporter, RunReporter, demo_events,
};

/// A writer the test keeps a handle on.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Buf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that went away.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

fn summary_of(events: &[Envelope]) -> Summary {
    events
        .iter()
        .find_map(|e| match &e.event {
            Event::RunFinished(f) => Some(f.summary.clone()),
            _ => None,
        })
        .expect("a RunFinished event")
}

/// A reporter whose renderers write to `out` and `err`, and its failures to `errors`.
fn reporter(mode: OutputMode, out: &Buf, err: &Buf, errors: &Buf) -> RunReporter {
    let (out, err) = (out.clone(), err.clone());
    RunReporter::with_renderers(
        RenderOptions::new(mode),
        Box::new(move |options| {
            Renderer::with_writers(options, Box::new(out.clone()), Box::new(err.clone()))
        }),
        Box::new(errors.clone()),
    )
}

#[derive(Debug)]
struct Refused {
    source: io::Error,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("h1: the agent could not be started")
    }
}

impl Error for Refused {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[test]
fn run_reporter_shows_a_host_as_its_labelled_renderer_does_and_each_event_once() {
    for mode in [OutputMode::Plain, OutputMode::Json, OutputMode::Quiet] {
        let events = demo_events();
        let (out, err, errors) = (Buf::default(), Buf::default(), Buf::default());
        let mut reporter = reporter(mode, &out, &err, &errors);
        // A reconnect that replays from the start, and a message of our own in between.
        for envelope in &events[..20] {
            reporter.event("forge", envelope).unwrap();
        }
        reporter
            .message(
                "forge",
                LogLevel::Warn,
                "connection lost, reconnecting (1/5)…",
            )
            .unwrap();
        for envelope in &events {
            reporter.event("forge", envelope).unwrap();
        }
        reporter.finish("forge", &summary_of(&events)).unwrap();
        reporter.done().unwrap();

        let (want_out, want_err) = (Buf::default(), Buf::default());
        let mut renderer = Renderer::with_writers(
            RenderOptions {
                host_label: Some("forge".into()),
                ..RenderOptions::new(mode)
            },
            Box::new(want_out.clone()),
            Box::new(want_err.clone()),
        );
        for envelope in &events[..20] {
            renderer.event(envelope).unwrap();
        }
        renderer
            .message(LogLevel::Warn, "connection lost, reconnecting (1/5)…")
            .unwrap();
        for envelope in &events[20..] {
            renderer.event(envelope).unwrap();
        }
        renderer.finish(&summary_of(&events)).unwrap();

        assert_eq!(out.text(), want_out.text(), "{mode:?}");
        assert_eq!(err.text(), want_err.text(), "{mode:?}");
        assert_eq!(errors.text(), "", "{mode:?}");
    }
}

#[test]
fn run_reporter_says_why_a_host_failed_with_its_sources_in_every_mode() {
    for mode in [
        OutputMode::Plain,
        OutputMode::Bars,
        OutputMode::Json,
        OutputMode::Quiet,
    ] {
        let (out, err, errors) = (Buf::default(), Buf::default(), Buf::default());
        let mut reporter = reporter(mode, &out, &err, &errors);
        let error = Refused {
            source: io::Error::other("sudo: a password is required"),
        };
        reporter
            .failed(
                "h1",
                &HostFailure {
                    exit_code: 3,
                    error: &error,
                },
            )
            .unwrap();
        assert_eq!(
            errors.text(),
            "error: h1: the agent could not be started: sudo: a password is required\n",
            "{mode:?}"
        );
        assert_eq!(out.text(), "", "{mode:?}");
    }
}

#[test]
fn run_reporter_stops_showing_quietly_when_the_reader_goes_away() {
    let errors = Buf::default();
    let mut reporter = RunReporter::with_renderers(
        RenderOptions::new(OutputMode::Plain),
        Box::new(|options| Renderer::with_writers(options, Box::new(Closed), Box::new(Closed))),
        Box::new(errors.clone()),
    );
    let events = demo_events();
    for envelope in &events {
        reporter.event("forge", envelope).unwrap();
    }
    reporter
        .message("forge", LogLevel::Warn, "connection lost")
        .unwrap();
    reporter.finish("forge", &summary_of(&events)).unwrap();
    reporter.done().unwrap();
    // A failure still says why on stderr: the policy ends the display, not the diagnosis.
    let error = io::Error::other("connection lost");
    reporter
        .failed(
            "forge",
            &HostFailure {
                exit_code: 3,
                error: &error,
            },
        )
        .unwrap();
    assert_eq!(errors.text(), "error: connection lost\n");
}
