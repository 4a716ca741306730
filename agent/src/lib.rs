//! `backup-orchestrator`: the host agent. See the README's design section.

pub mod cli;
pub mod commands;
pub mod engine;
pub mod journal;
pub mod ownership;
pub mod plan;
pub mod preflight;
pub mod runlog;
pub mod serve;
pub mod systemd;
