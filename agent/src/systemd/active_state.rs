//! What a unit's `ActiveState` means for the agent: the one definition of a unit that "runs".
//!
//! systemd's `ActiveState`s: `inactive`, `failed` and `maintenance` (no processes of the unit's
//! own run; `maintenance` is a `systemctl clean`), `activating`, `active`, `reloading`, `refreshing`
//! (the unit is up, or on its way up; `refreshing` is systemd 255's refresh of a unit's mount
//! namespace) and `deactivating` (its processes are being stopped and may still be there).
//!
//! | `ActiveState` | [`is_alive`] | [`is_running`] |
//! |---|---|---|
//! | `activating`, `active`, `reloading`, `refreshing` | yes | yes |
//! | `deactivating` | yes | no |
//! | `inactive`, `failed`, `maintenance`, anything else | no | no |
//!
//! The two questions differ on `deactivating` only, and on purpose:
//! - "Is its process still there?" ([`is_alive`]): a unit the agent waits for (a unit it started,
//!   the run unit a follower reads) has not ended while it deactivates: its process may still write
//!   its last lines, and its `Result` is not final.
//! - "Would a start join what is already running?" ([`is_running`]): the skip check. A start job for
//!   a `deactivating` unit is queued after the stop and runs the unit afresh, so such a unit is not
//!   skipped as "already running": it runs again, as the user's script did.

/// The unit's processes exist, or are about to: everything but `inactive`, `failed`,
/// `maintenance` (see the module doc for why `deactivating` counts).
pub fn is_alive(active_state: &str) -> bool {
    matches!(
        active_state,
        "activating" | "active" | "reloading" | "refreshing" | "deactivating"
    )
}

/// The unit is up or on its way up, so starting it would not run it again: [`is_alive`] except
/// `deactivating` (see the module doc). A stage skips such a unit.
pub fn is_running(active_state: &str) -> bool {
    is_alive(active_state) && active_state != "deactivating"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deactivating_unit_is_alive_but_not_running() {
        assert!(is_alive("deactivating"));
        assert!(!is_running("deactivating"));
    }

    #[test]
    fn running_states_are_the_skip_checks() {
        for state in ["active", "activating", "reloading", "refreshing"] {
            assert!(is_running(state), "{state}");
            assert!(is_alive(state), "{state}");
        }
        for state in ["inactive", "failed", "maintenance", ""] {
            assert!(!is_running(state), "{state}");
            assert!(!is_alive(state), "{state}");
        }
    }
}
