//! [`unit_logs`]: a unit's last invocation's journal, for `logs UNIT` and the controller's `Logs`
//! request: only for a unit the host's plan names (least privilege: the plan is the agent's whole
//! authority, reading included, so a controller cannot read sshd's or anything else's journal).

use backup_orchestrator_proto::request::MAX_LOG_LINES;
use backup_orchestrator_proto::{Refusal, RefusalKind, UnitLogs};

use super::session::refusal;
use crate::plan::Plan;
use crate::systemd::{SystemdConnection, invocation_journal, unit_journal};
use backup_orchestrator_render::error_chain;

/// Refuses a unit the plan does not name ([`Plan::allows`]).
pub fn check_planned(plan: &Plan, unit: &str) -> Result<(), Refusal> {
    if plan.allows(unit) {
        Ok(())
    } else {
        Err(refusal(
            RefusalKind::NotInPlan,
            format!(
                "{unit} is not a unit of this host's plan ({}): only the units its stages name can \
                 be read",
                plan.source
            ),
        ))
    }
}

/// The last `lines` (at most [`MAX_LOG_LINES`]) lines of `unit`'s last invocation, or of its
/// journal if systemd knows no invocation of it (not loaded now).
pub async fn unit_logs(
    plan: &Plan,
    connection: &SystemdConnection,
    unit: &str,
    lines: u32,
) -> Result<UnitLogs, Refusal> {
    check_planned(plan, unit)?;
    let lines = usize::try_from(lines.clamp(1, MAX_LOG_LINES)).unwrap_or(1);
    let invocation_id = connection.last_invocation(unit).await.map_err(|e| {
        refusal(
            RefusalKind::Internal,
            format!("failed to read the last invocation of {unit}: {e}"),
        )
    })?;
    let read = match &invocation_id {
        Some(id) => invocation_journal(id, lines).await,
        None => unit_journal(unit, lines).await,
    };
    let lines = read.map_err(|e| {
        refusal(
            RefusalKind::Internal,
            format!("failed to read the journal of {unit}: {}", error_chain(&e)),
        )
    })?;
    Ok(UnitLogs {
        unit: unit.to_owned(),
        invocation_id,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_refused_for_a_unit_the_plan_does_not_name() {
        let plan = Plan::builtin_default();
        assert!(check_planned(&plan, "syncoid-tank-services.service").is_ok());
        for unit in [
            "sshd.service",
            "syncoid-x-replication-info.service",
            "syncoid-@.service",
        ] {
            let refused = check_planned(&plan, unit).unwrap_err();
            assert_eq!(refused.kind, RefusalKind::NotInPlan, "{unit}");
            assert_eq!(refused.exit_code, 64);
            assert!(refused.message.starts_with(unit), "{}", refused.message);
        }
    }
}
