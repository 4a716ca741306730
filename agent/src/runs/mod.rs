//! A host's runs: start, attach, cancel and status of a run, for the CLI's commands and for a
//! controller's session. The commands only parse, call these and map the outcome to an exit code.
//!
//! ```text
//!  host.rs         Host: start a run (the run unit + its log), follow it, resolve, status, cancel
//!  unit.rs         RunUnit: the transient unit that owns a run and is the host's run lock
//!  status.rs       a run's StatusReport from its events
//!  history.rs      the kept runs as RunRecords (`history`)
//!  logs.rs         a planned unit's last invocation's journal (`logs`)
//!  execute.rs      execute_plan, the one call of the engine, and the sinks its events go to
//!  owned.rs        run_owned: the run inside its unit (signals → cancel, event log, summary)
//!  session.rs      the controller's session on a byte stream (protocol side), over a RunSource
//!  host_source.rs  HostRuns: this host's runs as that RunSource
//! ```
//!
//! Below this: the engine, systemd/, runlog/, the plan. Nothing here imports from the commands.

pub mod execute;
pub mod history;
pub mod host;
pub mod host_source;
pub mod logs;
pub mod owned;
pub mod session;
pub mod status;
pub mod unit;
