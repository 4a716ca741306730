//! [`FleetJson`]: `--json` for a fleet (more than one host, or any `@GROUP`): one document on
//! stdout when every host is done.
//!
//! ```json
//! {
//!   "exit_code": 3,
//!   "hosts": [
//!     { "total_services": 15, "successful": 14, …, "host": "h1", … },
//!     { "host": "h9", "exit_code": 3, "error": "h9: the host key has changed …" }
//!   ]
//! }
//! ```
//!
//! - `exit_code`: the process's exit code, the highest of the hosts' (0 < 1 < 2 < 3).
//! - `hosts`: one element per host, in the order the command line named them (groups expanded, a
//!   host named twice once): the host's summary object, exactly what `backup-orchestrator-ctl
//!   --json HOST` prints for it (schema on `Summary`, keys in declaration order), or, for a host
//!   that could not run or whose run could not be followed, `host`, `exit_code` and `error`, the
//!   message the user would see after `error: `.
//!
//! stderr gets what single-host JSON mode puts there: each run's error lines, our warnings, and
//! `error: …` for each host that failed.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};

use backup_orchestrator_proto::{Envelope, LogLevel, Summary, exit_codes};
use serde::Serialize;

use crate::error_chain::error_chain;
use crate::mode::{OutputMode, RenderOptions};
use crate::pipe::PipeState;
use crate::renderer::Renderer;
use crate::reporter::{HostFailure, Reporter, RunReporter};

/// Collects each host's summary or failure, and prints the fleet's document at [`Reporter::done`].
pub struct FleetJson {
    hosts: Vec<String>,
    results: HashMap<String, HostResult>,
    /// Each host's stderr lines, as in single-host JSON mode (its summary goes nowhere).
    stderr: RunReporter,
    out: Box<dyn Write + Send>,
    pipe: PipeState,
}

enum HostResult {
    Ran(Box<Summary>),
    Failed { exit_code: i32, error: String },
}

#[derive(Serialize)]
struct Document<'a> {
    exit_code: i32,
    hosts: Vec<Element<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Element<'a> {
    Ran(&'a Summary),
    Failed {
        host: &'a str,
        exit_code: i32,
        error: &'a str,
    },
}

impl fmt::Debug for FleetJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetJson")
            .field("hosts", &self.hosts)
            .field("done", &self.results.len())
            .finish_non_exhaustive()
    }
}

impl FleetJson {
    /// The document of `hosts`, in this order, on the process's stdout.
    pub fn new(hosts: &[String], verbose: bool) -> FleetJson {
        FleetJson::with_writer(hosts, verbose, Box::new(io::stdout()))
    }

    /// The document on `out`; the hosts' error lines still on the process's stderr.
    pub fn with_writer(hosts: &[String], verbose: bool, out: Box<dyn Write + Send>) -> FleetJson {
        let options = RenderOptions {
            mode: OutputMode::Json,
            verbose,
            host_label: None,
        };
        let stderr = RunReporter::with_renderers(
            options,
            Box::new(|options| {
                Renderer::with_writers(options, Box::new(io::sink()), Box::new(io::stderr()))
            }),
            Box::new(io::stderr()),
        );
        FleetJson {
            hosts: hosts.to_vec(),
            results: HashMap::new(),
            stderr,
            out,
            pipe: PipeState::default(),
        }
    }

    /// The document, pretty-printed, without a trailing newline.
    fn document(&self) -> String {
        let missing = "no result was received for this host";
        let hosts = self
            .hosts
            .iter()
            .map(|host| match self.results.get(host) {
                Some(HostResult::Ran(summary)) => Element::Ran(summary),
                Some(HostResult::Failed { exit_code, error }) => Element::Failed {
                    host,
                    exit_code: *exit_code,
                    error,
                },
                None => Element::Failed {
                    host,
                    exit_code: exit_codes::COULD_NOT_RUN,
                    error: missing,
                },
            })
            .collect::<Vec<_>>();
        let exit_code = hosts
            .iter()
            .map(|element| match element {
                Element::Ran(summary) => summary.exit_code,
                Element::Failed { exit_code, .. } => *exit_code,
            })
            .max()
            .unwrap_or(exit_codes::SUCCESS);
        // Plain structs with string keys only: serialization cannot fail.
        serde_json::to_string_pretty(&Document { exit_code, hosts })
            .expect("the fleet document serializes to JSON")
    }
}

impl Reporter for FleetJson {
    fn event(&mut self, host: &str, envelope: &Envelope) -> io::Result<()> {
        self.stderr.event(host, envelope)
    }

    fn message(&mut self, host: &str, level: LogLevel, text: &str) -> io::Result<()> {
        self.stderr.message(host, level, text)
    }

    fn finish(&mut self, host: &str, summary: &Summary) -> io::Result<()> {
        self.results
            .insert(host.to_owned(), HostResult::Ran(Box::new(summary.clone())));
        self.stderr.finish(host, summary)
    }

    fn failed(&mut self, host: &str, failure: &HostFailure<'_>) -> io::Result<()> {
        let result = HostResult::Failed {
            exit_code: failure.exit_code,
            error: error_chain(failure.error),
        };
        self.results.insert(host.to_owned(), result);
        self.stderr.failed(host, failure)
    }

    fn done(&mut self) -> io::Result<()> {
        let mut text = self.document();
        text.push('\n');
        let out = &mut self.out;
        self.pipe
            .write(|| out.write_all(text.as_bytes()).and_then(|()| out.flush()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_writer::SharedWriter as Shared;

    fn summary(host: &str, exit_code: i32) -> Summary {
        let mut summary = crate::demo_events()
            .into_iter()
            .find_map(|e| match e.event {
                backup_orchestrator_proto::Event::RunFinished(f) => Some(f.summary),
                _ => None,
            })
            .unwrap();
        summary.host = host.to_owned();
        summary.exit_code = exit_code;
        summary
    }

    #[test]
    fn fleet_json_is_one_document_in_host_order_with_the_worst_exit_code() {
        let out = Shared::default();
        let hosts = ["h1".to_owned(), "h2".to_owned(), "h3".to_owned()];
        let mut reporter = FleetJson::with_writer(&hosts, false, Box::new(out.clone()));
        let error = io::Error::other("h3: connection refused");
        reporter
            .failed(
                "h3",
                &HostFailure {
                    exit_code: 3,
                    error: &error,
                },
            )
            .unwrap();
        reporter.finish("h2", &summary("h2", 0)).unwrap();
        reporter.finish("h1", &summary("h1", 1)).unwrap();
        assert!(out.text().is_empty(), "nothing before done");
        reporter.done().unwrap();

        let text = out.text();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["exit_code"], 3);
        let elements = doc["hosts"].as_array().unwrap();
        let single: serde_json::Value =
            serde_json::from_str(&crate::summary_json(&summary("h1", 1))).unwrap();
        assert_eq!(elements[0], single, "identical to the single-host summary");
        assert_eq!(elements[1]["host"], "h2");
        assert_eq!(
            elements[2],
            serde_json::json!({"host": "h3", "exit_code": 3, "error": "h3: connection refused"})
        );
        // Keys keep the summary's declaration order.
        assert!(text.find("\"total_services\"").unwrap() < text.find("\"run_id\"").unwrap());
    }
}
