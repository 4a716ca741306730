//! [`SystemdConnection`]: the process's one connection to systemd on the system bus.
//!
//! Every user of systemd in the agent goes through it: the engine's [`super::SystemdBus`] (built
//! on it, adding the signal stream) and the run unit's calls (`transient.rs`). One connection per
//! process: a second one would cost systemd another client to answer and another `Hello`, and its
//! replies would not be ordered with the first's.

use zbus::Connection;
use zbus::proxy::CacheProperties;

use super::api::SystemdError;
use super::deadline::bounded;
use super::proxies::ManagerProxy;

/// A connection to the system bus with systemd's manager on it. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct SystemdConnection {
    pub(crate) conn: Connection,
    /// Uncached: every property read asks systemd.
    pub(crate) manager: ManagerProxy<'static>,
}

impl SystemdConnection {
    /// Connects to the system bus.
    pub async fn connect() -> Result<SystemdConnection, SystemdError> {
        let connect = |source| SystemdError::Connect { source };
        // Connecting is a handshake with the bus (auth, `Hello`): bounded like a call.
        let conn = bounded("Hello", Connection::system())
            .await
            .map_err(connect)?;
        let manager = bounded(
            "Hello",
            ManagerProxy::builder(&conn)
                .cache_properties(CacheProperties::No)
                .build(),
        )
        .await
        .map_err(connect)?;
        Ok(SystemdConnection { conn, manager })
    }
}
