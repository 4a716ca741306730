//! The part of systemd's D-Bus API the agent uses (`org.freedesktop.systemd1.Manager`, see
//! `man org.freedesktop.systemd1`). Unit properties are read through
//! `org.freedesktop.DBus.Properties` directly, uncached, in `bus.rs`.

use zbus::{ObjectPath, OwnedObjectPath, proxy};

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
