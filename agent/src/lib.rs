//! `backup-orchestrator`: the host agent. See the README's design section.
//!
//! ```text
//!  commands/   what each command line does (thin: parse, call, exit code)
//!     └─▶ runs/      start / attach / cancel / status of a run; the controller's session
//!            └─▶ engine/    a plan against systemd, as typed events
//!            └─▶ runlog/    the run's event log on disk      journal.rs   the run in the journal
//!                                                             stderr.rs    never blocked by it
//!            └─▶ systemd/   the one way to systemd (one bus connection per process)
//!            └─▶ monitoring/ at a run's start and end: Prometheus textfile, the plan's hooks
//!  plan/, preflight.rs, identity.rs: used from any floor, use none above them
//! ```

pub mod cli;
pub mod commands;
pub mod engine;
pub mod identity;
pub mod journal;
pub mod monitoring;
pub mod plan;
pub mod preflight;
pub mod runlog;
pub mod runs;
pub mod stderr;
pub mod systemd;
