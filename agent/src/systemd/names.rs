//! systemd's D-Bus names the agent uses: its bus name, the unit interfaces, and how a unit's
//! object path and type interface follow from its name (no `GetUnit` round trip needed).

use std::fmt::Write as _;

pub(crate) const SYSTEMD: &str = "org.freedesktop.systemd1";
pub(crate) const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
pub(crate) const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";
pub(crate) const UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit/";

/// systemd's object path of a unit (`sanoid.service` → `/org/freedesktop/systemd1/unit/
/// sanoid_2eservice`): every byte but ASCII letters, and digits after the first, as `_XX`
/// (systemd's `bus_label_escape`).
pub(crate) fn unit_object_path(unit: &str) -> String {
    let mut path = String::from(UNIT_PATH_PREFIX);
    if unit.is_empty() {
        path.push('_');
    }
    for (i, byte) in unit.bytes().enumerate() {
        if byte.is_ascii_alphabetic() || (i > 0 && byte.is_ascii_digit()) {
            path.push(char::from(byte));
        } else {
            let _ = write!(path, "_{byte:02x}");
        }
    }
    path
}

/// The type-specific interface that has a `Result` property, from the unit's suffix.
pub(crate) fn type_interface(unit: &str) -> Option<String> {
    let kind = match unit.rsplit_once('.')?.1 {
        "service" => "Service",
        "socket" => "Socket",
        "mount" => "Mount",
        "automount" => "Automount",
        "swap" => "Swap",
        "timer" => "Timer",
        "path" => "Path",
        "scope" => "Scope",
        _ => return None,
    };
    Some(format!("org.freedesktop.systemd1.{kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_interface_follows_the_unit_suffix() {
        assert_eq!(
            type_interface("sanoid.service").as_deref(),
            Some("org.freedesktop.systemd1.Service")
        );
        assert_eq!(type_interface("backup.target"), None);
    }

    #[test]
    fn unit_object_paths_escape_like_systemd() {
        assert_eq!(
            unit_object_path("sanoid.service"),
            "/org/freedesktop/systemd1/unit/sanoid_2eservice"
        );
        assert_eq!(
            unit_object_path("syncoid-tank-services-home-assistant.service"),
            "/org/freedesktop/systemd1/unit/syncoid_2dtank_2dservices_2dhome_2dassistant_2eservice"
        );
        assert_eq!(
            unit_object_path("2fa@user_1.service"),
            "/org/freedesktop/systemd1/unit/_32fa_40user_5f1_2eservice"
        );
        assert_eq!(
            unit_object_path(r"mnt-nas\x2dbackup.mount"),
            "/org/freedesktop/systemd1/unit/mnt_2dnas_5cx2dbackup_2emount"
        );
    }
}
