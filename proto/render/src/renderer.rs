//! [`Renderer`]: one per run and front end; takes envelopes in, writes the chosen [`OutputMode`].
//!
//! ```text
//!  Envelope ──▶ RunView::is_new? ──no──▶ (replay: ignored)
//!                   │ yes
//!                   ▼
//!              event_lines(view before) ──▶ RunView::apply ──▶ Plain:  [INFO] … on stdout
//!                                                           ├─▶ Bars:   lines/marks above bars, stderr
//!                                                           └─▶ Quiet/Json: [ERROR] lines on stderr
//!  Summary ──▶ finish ──▶ report lines (Plain, Bars; Quiet: errors only) │ summary JSON (Json)
//! ```

use std::fmt;
use std::io::{self, Write};

use backup_orchestrator_proto::{Envelope, LogLevel, Summary};
use indicatif::ProgressDrawTarget;

use crate::bars::Bars;
use crate::json::summary_json;
use crate::lines::event_lines;
use crate::mode::{OutputMode, RenderOptions};
use crate::plain::PlainWriter;
use crate::report::report_lines;
use crate::view::RunView;

/// Where a mode writes.
enum Destination {
    Plain(PlainWriter),
    Bars(Bars),
    Json {
        out: Box<dyn Write + Send>,
        errors: PlainWriter,
    },
    Quiet(PlainWriter),
}

/// Renders one run's event stream.
///
/// Feed it every [`Envelope`] with [`Renderer::event`], in `seq` order; envelopes already seen are
/// ignored, so a front end that re-attaches can replay from the start (or from
/// [`Renderer::last_seq`]) without showing anything twice. `Event::RunFinished` only clears the
/// bars: the final report is printed by [`Renderer::finish`], once, with the summary the front end
/// settled on (usually the one `RunFinished` carried).
///
/// Every write error is returned, a broken pipe included, so a binary whose reader went away can
/// exit quietly instead of panicking.
pub struct Renderer {
    options: RenderOptions,
    view: RunView,
    output: Destination,
    finished: bool,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("options", &self.options)
            .field("last_seq", &self.view.last_seq())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Renders to the process's stdout and stderr: Plain lines and the JSON summary on stdout; bars,
    /// and quiet/JSON mode's error lines, on stderr.
    pub fn new(options: RenderOptions) -> Renderer {
        let output = match options.mode {
            OutputMode::Bars => {
                Destination::Bars(Bars::stderr(options.verbose, options.host_label.clone()))
            }
            _ => {
                return Renderer::with_writers(
                    options,
                    Box::new(io::stdout()),
                    Box::new(io::stderr()),
                );
            }
        };
        Renderer::from_output(options, output)
    }

    /// Renders to the given writers (`out` standing for stdout, `err` for stderr). Bars mode draws
    /// no bars then (hidden draw target, no colors) but prints its lines and marks to `err`.
    pub fn with_writers(
        options: RenderOptions,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Renderer {
        let min_level = if options.verbose {
            LogLevel::Debug
        } else {
            LogLevel::Info
        };
        let label = options.host_label.clone();
        let output = match options.mode {
            OutputMode::Plain => Destination::Plain(PlainWriter::new(out, min_level, label)),
            OutputMode::Bars => Destination::Bars(Bars::new(
                err,
                ProgressDrawTarget::hidden(),
                false,
                options.verbose,
                label,
            )),
            OutputMode::Json => Destination::Json {
                out,
                // Warnings too: the front end's own notices (a reconnect) belong in a pipeline's
                // log; the run's own lines are filtered to errors in `event`.
                errors: PlainWriter::new(err, LogLevel::Warn, label),
            },
            OutputMode::Quiet => Destination::Quiet(PlainWriter::new(err, LogLevel::Error, label)),
        };
        Renderer::from_output(options, output)
    }

    fn from_output(options: RenderOptions, output: Destination) -> Renderer {
        Renderer {
            options,
            view: RunView::default(),
            output,
            finished: false,
        }
    }

    /// Shows one event. An envelope whose `seq` is at or below the last one seen is a replay and
    /// shows nothing.
    pub fn event(&mut self, envelope: &Envelope) -> io::Result<()> {
        if !self.view.is_new(envelope) {
            return Ok(());
        }
        let lines = event_lines(&self.view, envelope);
        self.view.apply(envelope);
        match &mut self.output {
            Destination::Plain(w) | Destination::Quiet(w) => w.write_lines(&lines),
            Destination::Json { errors, .. } => {
                let errors_only: Vec<_> = lines
                    .into_iter()
                    .filter(|line| line.level == LogLevel::Error)
                    .collect();
                errors.write_lines(&errors_only)
            }
            Destination::Bars(bars) => bars.event(&self.view, envelope, &lines),
        }
    }

    /// The front end's own line (`connection lost, reconnecting (2/5)…`), in the same format as the
    /// run's lines and above the bars.
    pub fn message(&mut self, level: LogLevel, text: &str) -> io::Result<()> {
        match &mut self.output {
            Destination::Plain(w) | Destination::Quiet(w) | Destination::Json { errors: w, .. } => {
                w.write_line(level, text)
            }
            Destination::Bars(bars) => bars.message(level, text),
        }
    }

    /// The final report (JSON mode: the summary JSON on stdout). Only the first call prints.
    pub fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        match &mut self.output {
            Destination::Plain(w) | Destination::Quiet(w) => {
                w.write_lines(&report_lines(&self.view, summary))?;
                w.flush()
            }
            Destination::Json { out, errors } => {
                errors.flush()?;
                let mut json = summary_json(summary);
                json.push('\n');
                out.write_all(json.as_bytes())?;
                out.flush()
            }
            Destination::Bars(bars) => bars.finish(&self.view, &report_lines(&self.view, summary)),
        }
    }

    /// The highest `seq` shown: a re-attach asks for the events after it.
    pub fn last_seq(&self) -> Option<u64> {
        self.view.last_seq()
    }
}
