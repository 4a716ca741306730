//! Renders a backup-orchestrator run: the same typed event stream shown by the agent on the host
//! (`sudo backup-orchestrator`) and by the controller on the laptop (`backup-orchestrator-ctl HOST`).
//!
//! This crate only consumes [`Envelope`]s and a [`Summary`]; it knows nothing of how they arrived
//! (engine callback, event log, SSH frames). The main type is [`Renderer`]; [`OutputMode::choose`]
//! picks its mode from `--json`, `--quiet` and the terminal. A front end that follows hosts feeds a
//! [`Reporter`] ([`RunReporter`] for the modes below), keyed by host.
//!
//! This crate is the one place that turns events into words: the run's lines and final report, the
//! controller's `status` and `cancel` answers ([`status_text`], [`cancelled_text`]), its
//! confirmation question ([`confirm_prompt`]), its `install` lines and `doctor` checklist
//! ([`install_line`], [`doctor_text`]), and errors with their sources ([`error_chain()`]).
//! Both binaries follow its broken-pipe policy ([`PipeState`]: a closed reader ends the output,
//! never the work, and never changes the exit code).
//!
//! It is a sibling of `backup-orchestrator-proto`, not part of the wire contract: its text may
//! change in any release.
//!
//! # Streams
//!
//! | mode | stdout | stderr |
//! |---|---|---|
//! | [`OutputMode::Plain`] | every line, `[INFO] …` | nothing |
//! | [`OutputMode::Bars`] | nothing | bars; lines, marks and the final report above them |
//! | [`OutputMode::Json`] | the summary JSON, once, at [`Renderer::finish`] | the run's error lines; the front end's warnings |
//! | [`OutputMode::Quiet`] | nothing | error-level lines |
//!
//! # Lines
//!
//! Plain mode, and the lines printed above the bars, keep the user's script's format, one line per
//! event, no ANSI codes in plain mode:
//!
//! ```text
//! [INFO] Stage 0: Pre-Flight Checks
//! [INFO] Disk space check passed: /mnt/nas-backup has 120GB available
//! [INFO] Stage 1: snapshots (1 unit: sanoid.service, failures are warnings)
//! [INFO] Starting sanoid.service...
//! [INFO] sanoid.service succeeded in 2.1s
//! [WARN] syncoid-tank-services-prowlarr.service failed with result: exit-code (exit status 1) after 48.3s
//! [WARN] restic-backup-plex.service skipped: already activating (started by its timer)
//! [INFO] Stage 5: Verification and Final Report
//! ```
//!
//! - Stages are numbered from 1 (the wire's `index + 1`); preflight is `Stage 0`; the final report is
//!   `Stage N+1`, N being the plan's stage count.
//! - With a host label, each line reads `[INFO] forge: …`: the level tag stays first.
//! - Sizes are in GB as `df -BG` shows them (powers of 1024, rounded down), MB/KB below 1 GB.
//! - Every duration comes from the envelopes (`duration_ms`, `elapsed_ms`), never from the local
//!   clock, so a replayed run prints exactly what the live one did.
//! - `--verbose` adds `[DEBUG]` lines: plan source, invocation ids, systemd states, debug log events.
//! - In bars mode a unit's final line starts with a mark instead of its level: ✔ success, ✘ failed,
//!   ⏱ timed out, ↷ skipped, ⚠ warning, ○ planned (dry run); `Starting …` lines are spinners.

mod answers;
mod bars;
mod check;
mod confirm;
mod demo;
mod doctor;
mod error_chain;
mod fleet_json;
mod fleet_table;
mod format;
mod history;
mod host_error;
mod install;
mod journal;
mod json;
mod lines;
mod logs;
mod mode;
mod pipe;
mod plain;
mod preflight;
mod preview;
mod printable;
mod renderer;
mod report;
mod reporter;
#[cfg(test)]
mod test_writer;
mod unit_journal;
mod view;

pub use answers::{NOTHING_TO_CANCEL, cancelled_json, cancelled_text, status_json, status_text};
pub use backup_orchestrator_proto::{Envelope, LogLevel, Summary};
pub use check::{
    CHECK_CRITICAL, CHECK_OK, CHECK_UNKNOWN, CHECK_WARNING, CheckLine, check_host, check_unknown,
    worst_check_code,
};
pub use confirm::{confirm_prompt, fleet_confirm_prompt};
pub use demo::demo_events;
pub use doctor::{Check, CheckStatus, HostChecklist, doctor_json, doctor_text};
pub use error_chain::error_chain;
pub use fleet_json::FleetJson;
pub use fleet_table::FleetTable;
pub use history::{history_json, history_text, run_result};
pub use host_error::{SingleJson, host_error_json};
pub use install::{InstallReport, InstallResult, install_json, install_line};
pub use journal::{JournalPriority, journal_entry};
pub use json::summary_json;
pub use lines::log_incomplete_text;
pub use logs::{logs_json, logs_text};
pub use mode::{OutputMode, RenderOptions};
pub use pipe::PipeState;
pub use preflight::preflight_failure;
pub use preview::run_preview;
pub use printable::printable;
pub use renderer::Renderer;
pub use reporter::{HostFailure, Reporter, RunReporter};
