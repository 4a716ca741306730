//! What a run tells the world besides its own output: the Prometheus textfile and the plan's hooks
//! ([`RunMonitor`]).
//!
//! ```text
//!  run start ──▶ start hooks (stdin: the run_started event), beside the engine
//!  run end   ──▶ textfile (every run, dry runs included) ──▶ end hooks (success | partial |
//!                failure by exit code, and finish; stdin: the summary)      ──▶ RunFinished
//! ```
//!
//! Everything here is reported back as warning lines, which the run emits as `Log` events before
//! its `RunFinished`: a broken hook or an unwritable textfile shows in every front end, and never
//! changes the verdict.
//!
//! ```text
//!  textfile.rs   the exposition-format text, what it carries across runs, the atomic write
//!  hooks.rs      one hook: spawn, stdin, environment, timeout (its process group killed)
//! ```

pub mod hooks;
pub mod textfile;

use std::path::PathBuf;

use backup_orchestrator_proto::event::RunStarted;
use backup_orchestrator_proto::{Event, Summary};
use serde::Serialize;

use crate::plan::{Hook, HookWhen, Monitoring};
use backup_orchestrator_render::error_chain;
use hooks::{HookContext, run_hook};
use textfile::write_textfile;

/// One run's monitoring, as its plan asks.
#[derive(Debug)]
pub struct RunMonitor<'a> {
    monitoring: &'a Monitoring,
    /// Where the textfile's carried values are kept ([`textfile::Carried`]).
    carried: PathBuf,
}

impl<'a> RunMonitor<'a> {
    pub fn new(monitoring: &'a Monitoring, carried: PathBuf) -> RunMonitor<'a> {
        RunMonitor {
            monitoring,
            carried,
        }
    }

    /// Runs the `start` hooks with `started` on their stdin; returns the warnings.
    pub async fn started(&self, started: &RunStarted) -> Vec<String> {
        let context = HookContext {
            run_id: &started.run_id,
            host: &started.host,
            exit_code: None,
        };
        let hooks = self
            .monitoring
            .hooks
            .iter()
            .filter(|h| h.when.contains(&HookWhen::Start));
        // As the event log has it (`"kind": "run_started"`), so a hook can tell it from a summary.
        let event = Event::RunStarted(started.clone());
        self.run_hooks(hooks, &event, &context).await
    }

    /// Writes the textfile, then (unless `hooks` is false: a dry run) runs the hooks for the
    /// run's end; returns the warnings.
    pub async fn finished(&self, summary: &Summary, hooks: bool) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(path) = &self.monitoring.textfile
            && let Err(e) = write_textfile(path, &self.carried, summary)
        {
            warnings.push(format!(
                "failed to write the monitoring textfile: {}",
                error_chain(&e)
            ));
        }
        if hooks {
            let context = HookContext {
                run_id: &summary.run_id,
                host: &summary.host,
                exit_code: Some(summary.exit_code),
            };
            let due = self
                .monitoring
                .hooks
                .iter()
                .filter(|h| h.when.iter().any(|w| w.at_end(summary.exit_code)));
            warnings.extend(self.run_hooks(due, summary, &context).await);
        }
        warnings
    }

    /// Runs `hooks` at once, each with `input` as JSON on its stdin.
    async fn run_hooks(
        &self,
        hooks: impl Iterator<Item = &Hook>,
        input: &impl Serialize,
        context: &HookContext<'_>,
    ) -> Vec<String> {
        let mut json = serde_json::to_vec(input).unwrap_or_default();
        json.push(b'\n');
        let runs = hooks.map(|hook| run_hook(hook, &json, context));
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .filter_map(|result| result.err())
            .map(|e| format!("{} (the verdict is unchanged)", error_chain(&e)))
            .collect()
    }
}
