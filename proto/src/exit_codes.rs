//! Process exit codes shared by `backup-orchestrator` and `backup-orchestrator-ctl`.
//!
//! A deploy pipeline gates on these (`backup-orchestrator-ctl forge && nixos-rebuild …`), so they are
//! part of the contract: 0, 1 and 2 keep the meaning of the user's original script.

/// Every unit succeeded (warnings from `on_failure = "warn"` stages allowed).
pub const SUCCESS: i32 = 0;
/// Some units failed or timed out, at or below the plan's failure threshold (default 50%).
pub const PARTIAL_FAILURE: i32 = 1;
/// Preflight failed (nothing was started), or the failure rate is above the threshold.
pub const CRITICAL: i32 = 2;
/// The run could not happen on the host: connection, host key, authentication, sudo, agent missing
/// or incompatible, or another run already in progress.
pub const COULD_NOT_RUN: i32 = 3;
/// Usage or configuration error (bad flag, malformed plan, no terminal for the confirmation prompt).
/// Taken from BSD `sysexits.h` `EX_USAGE`; clap's own default of 2 would read as "critical" here.
pub const USAGE: i32 = 64;
/// Interrupted locally (Ctrl-C). The run goes on on the host; `attach` follows it again.
pub const INTERRUPTED: i32 = 130;
