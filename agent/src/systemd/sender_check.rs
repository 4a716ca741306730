//! [`SenderCheck`]: tells systemd's signals from signals other clients send straight to us. Any
//! client on the bus may send a signal to any other (the bus delivers a signal addressed to our
//! unique name whatever our match rules say); only those from the current owner of
//! `org.freedesktop.systemd1` are systemd's.
//!
//! The owner is learnt once before the run (`GetNameOwner`) and then from the bus's own
//! `NameOwnerChanged` signals (systemd gets a new unique name when it re-executes), never by
//! asking the bus while a signal waits: the signal task must never wait on the bus. It did once,
//! asking `GetNameOwner` about each unknown sender; a local process sending a few thousand forged
//! signals from more connections than it remembered filled the signal queue while it waited, the
//! connection stopped reading (zbus waits for room in a full queue), the reply was never read,
//! and the run hung holding the host's lock. Now a forged signal costs one string comparison.

use zbus::Message;

use super::names::SYSTEMD;

/// The bus daemon's own name: the sender of `NameOwnerChanged` (no client can send as it).
pub(crate) const BUS: &str = "org.freedesktop.DBus";

/// Tells systemd's signals from signals other clients send straight to us.
#[derive(Debug)]
pub(crate) struct SenderCheck {
    /// The unique name of systemd's connection; `None` while the name has no owner (mid-reexec).
    owner: Option<String>,
}

impl SenderCheck {
    /// Starts from `owner`, the answer to `GetNameOwner` asked after the `NameOwnerChanged`
    /// match was in place (so no change after the answer is missed).
    pub(crate) fn new(owner: String) -> SenderCheck {
        SenderCheck { owner: Some(owner) }
    }

    /// A `NameOwnerChanged` signal: follows systemd's name to its new owner. Anything else, and
    /// anything not from the bus itself (a forgery), is ignored.
    pub(crate) fn owner_changed(&mut self, msg: &Message) {
        let header = msg.header();
        if header.sender().map(|s| s.as_str()) != Some(BUS)
            || header.member().map(|m| m.as_str()) != Some("NameOwnerChanged")
        {
            return;
        }
        let body = msg.body();
        let Ok((name, _old, new)) = body.deserialize::<(&str, &str, &str)>() else {
            return;
        };
        if name == SYSTEMD {
            self.owner = (!new.is_empty()).then(|| new.to_owned());
        }
    }

    /// Whether `msg` comes from systemd.
    pub(crate) fn is_systemd(&self, msg: &Message) -> bool {
        msg.header()
            .sender()
            .is_some_and(|sender| self.owner.as_deref() == Some(sender.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(sender: &str, member: &str, body: &(&str, &str, &str)) -> Message {
        Message::signal("/org/freedesktop/DBus", BUS, member)
            .sender(sender)
            .build(body)
            .unwrap()
    }

    fn job_removed_from(sender: &str) -> Message {
        Message::signal(
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
        )
        .sender(sender)
        .build(&(1_u32, "x.service"))
        .unwrap()
    }

    #[test]
    fn only_the_owner_tracked_from_the_bus_is_systemd() {
        let mut check = SenderCheck::new(":1.1".to_owned());
        assert!(check.is_systemd(&job_removed_from(":1.1")));
        assert!(!check.is_systemd(&job_removed_from(":1.66")));
        // A forged owner change (not from the bus) changes nothing.
        check.owner_changed(&from(
            ":1.66",
            "NameOwnerChanged",
            &(SYSTEMD, ":1.1", ":1.66"),
        ));
        assert!(!check.is_systemd(&job_removed_from(":1.66")));
        // Another name's change changes nothing either.
        check.owner_changed(&from(BUS, "NameOwnerChanged", &("org.x", "", ":1.66")));
        assert!(check.is_systemd(&job_removed_from(":1.1")));
        // systemd re-executes: no owner for a moment, then the new one.
        check.owner_changed(&from(BUS, "NameOwnerChanged", &(SYSTEMD, ":1.1", "")));
        assert!(!check.is_systemd(&job_removed_from(":1.1")));
        check.owner_changed(&from(BUS, "NameOwnerChanged", &(SYSTEMD, "", ":1.90")));
        assert!(check.is_systemd(&job_removed_from(":1.90")));
        assert!(!check.is_systemd(&job_removed_from(":1.1")));
    }
}
