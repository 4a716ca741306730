//! [`UnitState`]: what systemd has said about a started unit (its `PropertiesChanged` signals, or
//! one read of the same properties), and how that becomes the engine's [`UnitFinish`].
//!
//! systemd sends every property of an interface in each `PropertiesChanged`, so the last one of
//! `org.freedesktop.systemd1.Unit` and the last one of the type's interface (`…Service`) together
//! are the unit's whole state: [`UnitState::is_complete`] says when nothing needs to be read.

use std::collections::HashMap;
use std::fmt::Write as _;

use zbus::Variant;

use super::active_state;
use super::api::UnitFinish;
use super::names::{SERVICE_INTERFACE, UNIT_INTERFACE};

/// Whether a unit is still running: `active` (except a oneshot with `RemainAfterExit=yes`, whose
/// main process has exited: `active (exited)`), or changing state.
pub(crate) fn still_running(state: &UnitState) -> bool {
    let sub = state.sub.as_deref().unwrap_or_default();
    let active = state.active.as_deref().unwrap_or_default();
    active_state::is_alive(active) && !(active == "active" && sub == "exited")
}

/// A unit's state as its `PropertiesChanged` signals announce it (systemd sends every property
/// of the interface in each), or as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UnitState {
    /// `Unit.ActiveState`, `Unit.SubState`, `Unit.InvocationID`.
    pub(crate) active: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) invocation: Option<Vec<u8>>,
    /// `Result` of the type's interface (`Service.Result`, `Socket.Result`, …).
    pub(crate) result: Option<String>,
    /// `Service.ExecMainCode`, `Service.ExecMainStatus`.
    pub(crate) exec_code: Option<i32>,
    pub(crate) exec_status: Option<i32>,
}

impl UnitState {
    /// Takes in one `PropertiesChanged` of `interface`; `kind` is the unit type's interface.
    pub(crate) fn announce(
        &mut self,
        interface: &str,
        kind: Option<&str>,
        changed: &HashMap<&str, Variant>,
    ) {
        let string = |name| {
            changed
                .get(name)
                .and_then(|v| v.downcast_ref::<&str>().ok())
        };
        let int = |name| changed.get(name).and_then(|v| i32::try_from(v).ok());
        if interface == UNIT_INTERFACE {
            self.active = string("ActiveState")
                .map(str::to_owned)
                .or(self.active.take());
            self.sub = string("SubState").map(str::to_owned).or(self.sub.take());
            let invocation = changed
                .get("InvocationID")
                .and_then(|v| v.try_clone().ok())
                .and_then(|v| Vec::<u8>::try_from(v).ok());
            self.invocation = invocation.or(self.invocation.take());
        } else if Some(interface) == kind {
            self.result = string("Result").map(str::to_owned).or(self.result.take());
            if interface == SERVICE_INTERFACE {
                self.exec_code = int("ExecMainCode").or(self.exec_code);
                self.exec_status = int("ExecMainStatus").or(self.exec_status);
            }
        }
    }

    /// Takes the fields `newer` has.
    pub(crate) fn update(&mut self, newer: &UnitState) {
        let newer = newer.clone();
        self.active = newer.active.or(self.active.take());
        self.sub = newer.sub.or(self.sub.take());
        self.invocation = newer.invocation.or(self.invocation.take());
        self.result = newer.result.or(self.result.take());
        self.exec_code = newer.exec_code.or(self.exec_code);
        self.exec_status = newer.exec_status.or(self.exec_status);
    }

    /// Everything [`UnitState::finish`] needs is known; `kind`: the unit type's interface.
    pub(crate) fn is_complete(&self, kind: &Option<String>) -> bool {
        let unit = self.active.is_some() && self.sub.is_some() && self.invocation.is_some();
        let kind = match kind.as_deref() {
            None => true,
            Some(SERVICE_INTERFACE) => {
                self.result.is_some() && self.exec_code.is_some() && self.exec_status.is_some()
            }
            Some(_) => self.result.is_some(),
        };
        unit && kind
    }

    pub(crate) fn finish(self, unit: &str, job_result: String) -> UnitFinish {
        let result = self.result.unwrap_or_else(|| {
            if job_result == "done" {
                "success".to_owned()
            } else {
                job_result.clone()
            }
        });
        // ExecMainCode is a CLD_* code; 0: the main process never ran.
        let exit_status = match (unit.ends_with(".service"), self.exec_code, self.exec_status) {
            (true, Some(code), status) if code != 0 => status,
            _ => None,
        };
        let invocation = self.invocation.unwrap_or_default();
        UnitFinish {
            job_result,
            result,
            active_state: self.active.unwrap_or_else(|| "unknown".to_owned()),
            exit_status,
            invocation_id: (!invocation.is_empty()).then(|| hex(&invocation)),
        }
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::super::names::type_interface;
    use super::*;

    fn state(active: &str, sub: &str) -> UnitState {
        UnitState {
            active: Some(active.to_owned()),
            sub: Some(sub.to_owned()),
            ..UnitState::default()
        }
    }

    #[test]
    fn still_running_treats_remain_after_exit_as_ended() {
        assert!(still_running(&state("active", "running")));
        assert!(still_running(&state("activating", "start")));
        assert!(still_running(&state("deactivating", "stop-sigterm")));
        assert!(!still_running(&state("active", "exited")));
        assert!(!still_running(&state("inactive", "dead")));
        assert!(!still_running(&state("failed", "failed")));
    }

    #[test]
    fn hex_formats_invocation_ids() {
        assert_eq!(hex(&[0x0a, 0xff, 0x00]), "0aff00");
    }

    #[test]
    fn a_service_s_signals_give_its_whole_end() {
        let kind = type_interface("x.service");
        let mut unit = UnitState::default();
        let service: HashMap<&str, Variant> = [
            ("Result", Variant::from("exit-code")),
            ("ExecMainCode", Variant::from(1_i32)),
            ("ExecMainStatus", Variant::from(3_i32)),
            ("MainPID", Variant::from(0_u32)),
        ]
        .into();
        unit.announce(SERVICE_INTERFACE, kind.as_deref(), &service);
        assert!(!unit.is_complete(&kind));
        let common: HashMap<&str, Variant> = [
            ("ActiveState", Variant::from("failed")),
            ("SubState", Variant::from("failed")),
            ("InvocationID", Variant::from(vec![0xab_u8, 0x01])),
        ]
        .into();
        unit.announce(UNIT_INTERFACE, kind.as_deref(), &common);
        assert!(unit.is_complete(&kind));
        assert!(!still_running(&unit));
        assert_eq!(
            unit.finish("x.service", "failed".to_owned()),
            UnitFinish {
                job_result: "failed".to_owned(),
                result: "exit-code".to_owned(),
                active_state: "failed".to_owned(),
                exit_status: Some(3),
                invocation_id: Some("ab01".to_owned()),
            }
        );
    }

    #[test]
    fn a_target_needs_only_its_unit_signals_and_takes_the_job_result() {
        let kind = type_interface("x.target");
        let mut unit = UnitState::default();
        let common: HashMap<&str, Variant> = [
            ("ActiveState", Variant::from("active")),
            ("SubState", Variant::from("active")),
            ("InvocationID", Variant::from(Vec::<u8>::new())),
        ]
        .into();
        unit.announce(UNIT_INTERFACE, kind.as_deref(), &common);
        assert!(unit.is_complete(&kind));
        let finish = unit.finish("x.target", "dependency".to_owned());
        assert_eq!(finish.result, "dependency");
        assert_eq!((finish.exit_status, finish.invocation_id), (None, None));
    }
}
