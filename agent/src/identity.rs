//! Who this agent is: [`SOFTWARE`] (this build, as Hellos and events name it) and [`hostname`]
//! (this host, as events and messages show it).
//!
//! Kept at the bottom of the crate so that every layer (the engine's `RunStarted`, the session's
//! Hello, the commands' messages) can name the agent and its host without reaching up.

/// `backup-orchestrator 0.1.0`: this build, as it names itself in Hellos and events.
pub const SOFTWARE: &str = concat!("backup-orchestrator ", env!("CARGO_PKG_VERSION"));

/// This host's name, as events and messages show it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
