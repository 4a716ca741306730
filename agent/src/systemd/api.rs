//! What the engine asks of systemd: the [`Systemd`] trait, a started unit's [`UnitWatch`], how
//! it ended ([`UnitFinish`]), and [`SystemdError`]. See the module doc of `systemd` for how the
//! bus implementation answers.

use super::deadline::BusError;

/// The host's service manager, as the engine uses it.
///
/// Implementations are used from one task; their futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Systemd {
    /// Follows one started unit; see [`UnitWatch`].
    type Watch: UnitWatch + 'static;

    /// The units a stage runs: unit files and loaded units matching `patterns`, with literal
    /// names kept even when absent, templates dropped and `exclude` applied; sorted by name
    /// (see [`crate::plan::pattern::resolve_units`]).
    async fn discover(
        &self,
        patterns: &[String],
        exclude: &[String],
    ) -> Result<Vec<String>, SystemdError>;

    /// The `ActiveState` of each of `units` now, in their order (`inactive`, `active`,
    /// `activating`, `failed`, …), read in one exchange.
    async fn active_states(&self, units: &[String]) -> Result<Vec<String>, SystemdError>;

    /// `units` have their turn later in this run: an implementation may read their states now and
    /// keep them current, so that [`Systemd::active_states`] need not ask systemd at their turn.
    /// A failure only means that `active_states` will ask.
    async fn anticipate(&self, units: &[String]) -> Result<(), SystemdError> {
        let _ = units;
        Ok(())
    }

    /// Queues a start job for `unit` (mode `replace`) and returns once systemd has accepted it.
    /// The watch was set up before the job was requested, so no signal is missed.
    async fn start_and_watch(&self, unit: &str) -> Result<Self::Watch, SystemdError>;

    /// Queues a stop job for `unit` and returns once systemd has accepted it (without waiting for
    /// the unit to stop: its watch reports that).
    async fn stop(&self, unit: &str) -> Result<(), SystemdError>;

    /// Why a unit failed, in its own words: the last
    /// [`JOURNAL_LINES`](backup_orchestrator_proto::summary::JOURNAL_LINES) lines of invocation
    /// `invocation_id`'s journal, oldest first and within the protocol's byte bounds. Empty when
    /// they cannot be read: reading them never changes an outcome.
    async fn failure_journal(&self, invocation_id: &str) -> Vec<String> {
        let _ = invocation_id;
        Vec::new()
    }
}

/// A started unit's watch.
#[allow(async_fn_in_trait)]
pub trait UnitWatch {
    /// Resolves when the start job is done and, for a unit that stays active after it
    /// (`Type=simple`/`exec`), when the unit has left `active`/`activating` again.
    async fn finished(self) -> Result<UnitFinish, SystemdError>;
}

/// How a unit ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitFinish {
    /// The start job's result from `JobRemoved`: `done`, `failed`, `canceled`, `timeout`,
    /// `dependency`, `skipped`, …
    pub job_result: String,
    /// The unit's `Result` property (`success`, `exit-code`, `signal`, …). For unit types
    /// without one, `success` if the job was `done`, else the job result.
    pub result: String,
    /// `ActiveState` after the end (`inactive`, `failed`, …).
    pub active_state: String,
    /// `ExecMainStatus` when the main process ran (exit code, or signal number).
    pub exit_status: Option<i32>,
    /// `InvocationID` of this activation, as 32 hex digits.
    pub invocation_id: Option<String>,
}

impl UnitFinish {
    /// The unit succeeded: its job was `done` and its `Result` is `success`.
    pub fn succeeded(&self) -> bool {
        self.job_result == "done" && self.result == "success"
    }
}

/// A failed D-Bus exchange with systemd.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("connect to the system bus")]
    Connect {
        #[source]
        source: BusError,
    },
    #[error("subscribe to systemd's job signals")]
    Subscribe {
        #[source]
        source: BusError,
    },
    #[error("list units matching {patterns:?}")]
    Discover {
        patterns: Vec<String>,
        #[source]
        source: BusError,
    },
    #[error("read the state of {}", units.join(", "))]
    State {
        units: Vec<String>,
        #[source]
        source: BusError,
    },
    #[error("start {unit}")]
    Start {
        unit: String,
        #[source]
        source: BusError,
    },
    #[error("follow {unit} to its end")]
    Watch {
        unit: String,
        #[source]
        source: BusError,
    },
    #[error("follow {unit} to its end: the system bus connection closed")]
    Disconnected { unit: String },
    #[error("stop {unit}")]
    Stop {
        unit: String,
        #[source]
        source: BusError,
    },
}

impl SystemdError {
    /// The D-Bus error name systemd replied with (`org.freedesktop.systemd1.NoSuchUnit`,
    /// `org.freedesktop.systemd1.UnitMasked`, …), if the failure was an error reply.
    pub fn dbus_error_name(&self) -> Option<String> {
        match self {
            SystemdError::Connect { source }
            | SystemdError::Subscribe { source }
            | SystemdError::Discover { source, .. }
            | SystemdError::State { source, .. }
            | SystemdError::Start { source, .. }
            | SystemdError::Watch { source, .. }
            | SystemdError::Stop { source, .. } => source.dbus_error_name(),
            SystemdError::Disconnected { .. } => None,
        }
    }
}
