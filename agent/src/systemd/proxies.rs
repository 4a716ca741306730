//! The part of systemd's D-Bus API the agent uses (`org.freedesktop.systemd1.Manager` and the few
//! `org.freedesktop.systemd1.Unit` properties the run unit is read by; see
//! `man org.freedesktop.systemd1`). A followed unit's properties are read through
//! `org.freedesktop.DBus.Properties` directly, uncached, in `bus.rs`.

use zbus::{ObjectPath, OwnedObjectPath, Variant, proxy};

/// One row of `ListUnitsByPatterns`: name, description, load state, active state, sub state,
/// followed unit, object path, job id, job type, job path.
pub(crate) type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub(crate) trait Manager {
    /// Asks systemd to broadcast job and unit signals (`JobRemoved`, …) to this client; without
    /// it systemd sends them to no one.
    fn subscribe(&self) -> zbus::Result<()>;

    /// Queues a start job; returns its object path.
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Queues a stop job; returns its object path.
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Creates and starts a unit that exists only until it ends (`systemd-run`'s call).
    fn start_transient_unit(
        &self,
        name: &str,
        mode: &str,
        properties: &[(&str, Variant<'_>)],
        aux: &[(&str, &[(&str, Variant<'_>)])],
    ) -> zbus::Result<OwnedObjectPath>;

    /// The object path of a loaded unit; `NoSuchUnit` if it is not loaded (loads nothing).
    fn get_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// Sends `signal` to the unit's processes (`whom`: `main`, `control` or `all`).
    fn kill_unit(&self, name: &str, whom: &str, signal: i32) -> zbus::Result<()>;

    /// Clears a unit's `failed` state, so that it can be collected.
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;

    /// Loaded units whose names match `patterns` (all states when `states` is empty); loads
    /// nothing.
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<ListedUnit>>;

    /// The directories systemd looks for unit files in, in its order of precedence.
    #[zbus(property)]
    fn unit_path(&self) -> zbus::Result<Vec<String>>;

    /// A job ended: `result` is `done`, `canceled`, `timeout`, `failed`, `dependency` or
    /// `skipped`.
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
pub(crate) trait Unit {
    #[zbus(property)]
    fn description(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;

    /// `(0, "/")` when no job is queued for the unit.
    #[zbus(property)]
    fn job(&self) -> zbus::Result<(u32, OwnedObjectPath)>;

    /// 16 bytes; empty when the unit has not been activated since it was loaded.
    #[zbus(property, name = "InvocationID")]
    fn invocation_id(&self) -> zbus::Result<Vec<u8>>;
}
