//! The agent's only way to systemd: the [`Systemd`] trait the engine asks, [`SystemdBus`], its
//! implementation over D-Bus (zbus), and the run unit's calls (`transient.rs`), all on the
//! process's one [`SystemdConnection`].
//!
//! ```text
//!  api.rs           the Systemd trait, UnitWatch, UnitFinish, SystemdError
//!  connection.rs    SystemdConnection: one system-bus connection per process, Manager proxy
//!  bus.rs           SystemdBus: the engine's calls (discover, states, start + watch, stop)
//!  signal_task.rs   the one task reading systemd's signals (and who systemd is) off the bus
//!  signals.rs       what it keeps for the calls (job ends, units' states)
//!  unit_state.rs    a started unit's state as announced or read, and its UnitFinish
//!  active_state.rs  what an ActiveState means: is_alive / is_running, defined once
//!  transient.rs     the run unit: StartTransientUnit, GetUnit + its state, KillUnit, ResetFailed
//!  sender_check.rs  which signals are systemd's (any client may send us one)
//!  deadline.rs      every call bounded in time: BusError::NoAnswer names the call
//!  names.rs         bus name, interfaces, unit object paths
//!  proxies.rs       the D-Bus interfaces (zbus proxies)
//!  unit_files.rs    unit files matching a stage's globs
//!  unit_journal.rs  a unit's own journal lines (one invocation's, or its latest), via journalctl
//! ```
//!
//! The trait is small on purpose: discover units, read their `ActiveState`s, start one and
//! watch it to its end, stop one. The engine's tests drive a deterministic in-memory
//! implementation; the agent drives the host's PID 1.
//!
//! # Following a unit
//!
//! ```text
//!  engine                          SystemdBus                               systemd
//!    │                  (since connect: one stream of systemd's signals, read by one task)
//!    │ anticipate(units) ─────▶ ListUnitsByPatterns(names) ───────────────▶ │ (loads nothing)
//!    │                          (their states kept from PropertiesChanged)    │
//!    │ active_states(units) ──▶ (answered from what is kept)                  │
//!    │ start_and_watch(unit) ─▶ follow the unit's PropertiesChanged            │
//!    │                          StartUnit(unit, "replace") ───────────────▶ │
//!    │ ◀── UnitWatch{job path} ─                                               │
//!    │ watch.finished() ──────▶ PropertiesChanged(unit): state, Result, ◀──── │  job done
//!    │                            ExecMainCode/Status, InvocationID           │
//!    │                          JobRemoved{job == ours} ◀──────────────────  │
//!    │                          still active (Type=simple/exec)?              │
//!    │                            its PropertiesChanged until it ends ◀────  │
//!    │ ◀── UnitFinish ──────────                                              │
//! ```
//!
//! The signal stream is in place before the first `StartUnit`: a fast job's `JobRemoved` would
//! otherwise be lost (systemd broadcasts it once). systemd sends a unit's pending
//! `PropertiesChanged` before its job's `JobRemoved`, so the unit's end is known when the job's end
//! arrives: no property reads, no `RefUnit` to keep a finished oneshot loaded (see `signals.rs`). No
//! polling, no `systemctl`.

pub mod active_state;
mod api;
mod bus;
mod connection;
mod deadline;
mod names;
mod proxies;
mod sender_check;
mod signal_task;
mod signals;
mod transient;
mod unit_files;
mod unit_journal;
mod unit_state;

#[cfg(test)]
pub(crate) mod fake;

pub use api::{Systemd, SystemdError, UnitFinish, UnitWatch};
pub use bus::SystemdBus;
pub use connection::SystemdConnection;
pub use deadline::BusError;
pub use transient::{TransientService, TransientStart, UnitSnapshot};
pub use unit_journal::{JournalReadError, invocation_journal, unit_journal};
