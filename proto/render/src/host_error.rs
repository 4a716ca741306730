//! `--json` when a single host could not run: [`host_error_json`] (`{"host", "exit_code",
//! "error"}`, the very element a fleet's document has for such a host) and [`SingleJson`], the
//! single-host JSON run display that prints it on stdout, so `--json` always prints an object.

use std::io::{self, Write};

use backup_orchestrator_proto::{Envelope, LogLevel, Summary};

use crate::error_chain::error_chain;
use crate::mode::OutputMode;
use crate::pipe::PipeState;
use crate::reporter::{HostFailure, Reporter, RunReporter};

/// `{"host": HOST, "exit_code": CODE, "error": "…"}`, pretty, with a final newline.
pub fn host_error_json(host: &str, exit_code: i32, error: &str) -> String {
    let value = serde_json::json!({ "host": host, "exit_code": exit_code, "error": error });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// `--json` for one host: the [`RunReporter`]'s summary on stdout, and when the host fails, its
/// error object there too (the `error: …` line still goes to stderr).
pub struct SingleJson {
    inner: RunReporter,
    out: Box<dyn Write + Send>,
    pipe: PipeState,
}

impl std::fmt::Debug for SingleJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleJson")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl SingleJson {
    pub fn new(verbose: bool) -> SingleJson {
        SingleJson::with_parts(
            RunReporter::new(OutputMode::Json, verbose),
            Box::new(io::stdout()),
        )
    }

    /// `inner` renders the run; `out` gets a failed host's error object.
    pub fn with_parts(inner: RunReporter, out: Box<dyn Write + Send>) -> SingleJson {
        SingleJson {
            inner,
            out,
            pipe: PipeState::default(),
        }
    }
}

impl Reporter for SingleJson {
    fn event(&mut self, host: &str, envelope: &Envelope) -> io::Result<()> {
        self.inner.event(host, envelope)
    }

    fn message(&mut self, host: &str, level: LogLevel, text: &str) -> io::Result<()> {
        self.inner.message(host, level, text)
    }

    fn finish(&mut self, host: &str, summary: &Summary) -> io::Result<()> {
        self.inner.finish(host, summary)
    }

    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> io::Result<()> {
        let text = host_error_json(host, failure.exit_code, &error_chain(failure.error));
        let out = &mut self.out;
        self.pipe
            .write(|| out.write_all(text.as_bytes()).and_then(|()| out.flush()))?;
        self.inner.failed(host, failure)
    }

    fn done(&mut self) -> io::Result<()> {
        self.inner.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::RenderOptions;
    use crate::renderer::Renderer;
    use crate::test_writer::SharedWriter as Shared;

    #[test]
    fn a_failed_single_host_prints_its_error_object_on_stdout_and_the_error_on_stderr() {
        let (out, errors) = (Shared::default(), Shared::default());
        let options = RenderOptions {
            mode: OutputMode::Json,
            verbose: false,
            host_label: None,
        };
        let inner =
            RunReporter::with_renderers(options, Box::new(Renderer::new), Box::new(errors.clone()));
        let mut reporter = SingleJson::with_parts(inner, Box::new(out.clone()));
        let error = io::Error::other("forge: connection refused");
        let failure = HostFailure {
            exit_code: 3,
            error: &error,
        };
        reporter.failed("forge", &failure).unwrap();
        reporter.done().unwrap();
        let text = out.text();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"host": "forge", "exit_code": 3, "error": "forge: connection refused"})
        );
        let said = errors.text();
        assert_eq!(said, "error: forge: connection refused\n");
    }
}
