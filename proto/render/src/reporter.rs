//! The host-keyed seam between the work and the display: [`Reporter`], and [`RunReporter`], the
//! bars / plain lines / JSON / quiet modes behind it.
//!
//! ```text
//!  task per host (connect, session, reconnect)        display task (owns the Box<dyn Reporter>)
//!   forge ──┐
//!   nas01 ──┼── host-keyed messages, one channel ──▶ event · message · finish · failed … done
//!   vault ──┘
//! ```
//!
//! A front end turns whatever its hosts send into calls on one `Reporter`; the reporter decides
//! what the user sees. A new output (a per-host table, a fleet JSON document, a monitoring feed) is
//! a new implementation, not a new arm in a closed enum. The reporter only shows: the exit code is
//! the front end's to compute, from the summaries and failures it also passed on.
//!
//! Envelopes may arrive twice around a reconnect (the agent replays from the `seq` asked for, or a
//! little before): a reporter shows each once. The ones here do it through the run view each
//! [`Renderer`] keeps, the one place where events are filtered by `seq`.

use std::error::Error;
use std::fmt;
use std::io::{self, Write};

use backup_orchestrator_proto::{Envelope, LogLevel, Summary};

use crate::error_chain::error_chain;
use crate::mode::{OutputMode, RenderOptions};
use crate::pipe::PipeState;
use crate::renderer::Renderer;

/// Shows the runs of one or more hosts; every call names the host it is about.
pub trait Reporter {
    /// One event of `host`'s run, in `seq` order (a replayed one may come again: show it once).
    fn event(&mut self, host: &str, envelope: &Envelope) -> io::Result<()>;
    /// A line of the front end's own about `host` (`connection lost, reconnecting (1/5)…`).
    fn message(&mut self, host: &str, level: LogLevel, text: &str) -> io::Result<()>;
    /// `host`'s run ended with `summary`: its final report.
    fn finish(&mut self, host: &str, summary: &Summary) -> io::Result<()>;
    /// `host` could not run, or its run could not be followed to the end.
    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> io::Result<()>;
    /// Every host has finished or failed: the last word (nothing, for a single host).
    fn done(&mut self) -> io::Result<()>;
}

/// Why a host has no summary, with the exit code the front end gives it.
#[derive(Clone, Copy)]
pub struct HostFailure<'a> {
    /// 3 (could not run), or a refusal's own code.
    pub exit_code: i32,
    /// What went wrong; shown with its chain of sources.
    pub error: &'a (dyn Error + 'static),
}

impl fmt::Debug for HostFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFailure")
            .field("exit_code", &self.exit_code)
            .field("error", &error_chain(self.error))
            .finish()
    }
}

type MakeRenderer = Box<dyn FnMut(RenderOptions) -> Renderer + Send>;

/// The run display of a single host (`backup-orchestrator-ctl HOST`) in any [`OutputMode`]: one
/// [`Renderer`] per host, each line labelled with its host, and a failure as `error: …` on stderr.
///
/// Built for one host at a time: several hosts' plain lines interleave as they come (each labelled),
/// but their bars would draw over each other; a fleet on a terminal wants its own reporter (a
/// per-host table).
///
/// Writes follow the crate's broken-pipe policy ([`PipeState`]): once the reader is gone, nothing
/// more is shown and nothing fails.
pub struct RunReporter {
    options: RenderOptions,
    make: MakeRenderer,
    errors: Box<dyn Write + Send>,
    runs: Vec<(String, Renderer)>,
    pipe: PipeState,
}

impl fmt::Debug for RunReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunReporter")
            .field("options", &self.options)
            .field(
                "hosts",
                &self.runs.iter().map(|(h, _)| h).collect::<Vec<_>>(),
            )
            .field("pipe", &self.pipe)
            .finish_non_exhaustive()
    }
}

impl RunReporter {
    /// Renders to the process's stdout and stderr (see [`Renderer::new`]).
    pub fn new(mode: OutputMode, verbose: bool) -> RunReporter {
        RunReporter::with_renderers(
            RenderOptions {
                mode,
                verbose,
                host_label: None,
            },
            Box::new(Renderer::new),
            Box::new(io::stderr()),
        )
    }

    /// Makes each host's renderer with `make` (given `options` with the host's label), and writes
    /// failures to `errors`.
    pub fn with_renderers(
        options: RenderOptions,
        make: MakeRenderer,
        errors: Box<dyn Write + Send>,
    ) -> RunReporter {
        RunReporter {
            options,
            make,
            errors,
            runs: Vec::new(),
            pipe: PipeState::default(),
        }
    }

    fn renderer(&mut self, host: &str) -> &mut Renderer {
        let pos = match self.runs.iter().position(|(h, _)| h == host) {
            Some(pos) => pos,
            None => {
                let options = RenderOptions {
                    host_label: Some(host.to_owned()),
                    ..self.options.clone()
                };
                self.runs.push((host.to_owned(), (self.make)(options)));
                self.runs.len() - 1
            }
        };
        &mut self.runs[pos].1
    }
}

impl Reporter for RunReporter {
    fn event(&mut self, host: &str, envelope: &Envelope) -> io::Result<()> {
        if self.pipe.is_closed() {
            return Ok(());
        }
        let renderer = self.renderer(host);
        let result = renderer.event(envelope);
        self.pipe.write(|| result)
    }

    fn message(&mut self, host: &str, level: LogLevel, text: &str) -> io::Result<()> {
        if self.pipe.is_closed() {
            return Ok(());
        }
        let result = self.renderer(host).message(level, text);
        self.pipe.write(|| result)
    }

    fn finish(&mut self, host: &str, summary: &Summary) -> io::Result<()> {
        if self.pipe.is_closed() {
            return Ok(());
        }
        let result = self.renderer(host).finish(summary);
        self.pipe.write(|| result)
    }

    /// Clears the host's bars (dropping its renderer), then `error: …` on stderr, in every mode:
    /// quiet and JSON runs still say why there is no summary.
    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> io::Result<()> {
        self.runs.retain(|(h, _)| h != host);
        let text = format!("error: {}\n", error_chain(failure.error));
        let errors = &mut self.errors;
        // Said even after stdout went away (the policy ends the display, not the diagnosis); a
        // closed stderr is not an error either.
        PipeState::default().write(|| {
            errors
                .write_all(text.as_bytes())
                .and_then(|()| errors.flush())
        })
    }

    fn done(&mut self) -> io::Result<()> {
        Ok(())
    }
}
