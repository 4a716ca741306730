//! [`SenderCheck`]: tells systemd's signals from signals other clients send straight to us. Any
//! client on the bus may send a signal to any other; only those from the current owner of
//! `org.freedesktop.systemd1` are systemd's. The owner changes when systemd re-executes.

use std::collections::HashSet;

use zbus::fdo::DBusProxy;
use zbus::names::BusName;
use zbus::proxy::CacheProperties;
use zbus::{Connection, Message};

use super::names::SYSTEMD;

/// Tells systemd's signals from signals other clients send straight to us (any client may).
#[derive(Debug)]
pub(crate) struct SenderCheck {
    dbus: DBusProxy<'static>,
    /// The unique name of systemd's connection.
    owner: String,
    /// Senders found not to be systemd: not asked about again.
    strangers: HashSet<String>,
}

impl SenderCheck {
    /// Learns who systemd is now (`GetNameOwner`).
    pub(crate) async fn new(conn: &Connection) -> zbus::Result<SenderCheck> {
        let dbus = DBusProxy::builder(conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        let owner = dbus.get_name_owner(BusName::try_from(SYSTEMD)?).await?;
        Ok(SenderCheck {
            dbus,
            owner: owner.to_string(),
            strangers: HashSet::new(),
        })
    }

    pub(crate) async fn is_systemd(&mut self, msg: &Message) -> bool {
        let Some(sender) = msg.header().sender().map(|s| s.to_string()) else {
            return false;
        };
        if sender == self.owner {
            return true;
        }
        if self.strangers.contains(&sender) {
            return false;
        }
        // systemd re-executed (and reconnected), or another client sent us a signal.
        let now = match BusName::try_from(SYSTEMD) {
            Ok(name) => self.dbus.get_name_owner(name).await.ok(),
            Err(_) => None,
        };
        if now.is_some_and(|now| now.as_str() == sender) {
            self.owner = sender;
            return true;
        }
        if self.strangers.len() >= 64 {
            self.strangers.clear();
        }
        self.strangers.insert(sender);
        false
    }
}
