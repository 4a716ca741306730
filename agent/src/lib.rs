//! `backup-orchestrator`: the host agent. See the README's design section.

pub mod engine;
pub mod plan;
pub mod preflight;
pub mod systemd;
