//! [`run_preview`]: what the agent shows before it asks to start a real run on the host's
//! terminal: the plan's preflight and stages (from a dry run's events), then the question.

use backup_orchestrator_proto::{Envelope, Event};

use crate::format;

/// ```text
/// Plan /etc/backup-orchestrator/plan.toml on forge:
///   preflight: /mnt/nas-backup needs 50GB free
///   stage 1 snapshots: sanoid.service
/// Run 4 stages on forge now? [y/N]
/// ```
///
/// `events`: a dry run of the plan; `stages`: the plan's stage count. The question has no newline:
/// the answer follows on its line.
pub fn run_preview(plan_source: &str, host: &str, events: &[Envelope], stages: usize) -> String {
    let mut preview = format!("Plan {plan_source} on {host}:\n");
    for envelope in events {
        match &envelope.event {
            Event::PreflightCheck(c) => preview.push_str(&format!(
                "  preflight: {} needs {} free\n",
                c.path,
                format::size(c.min_free_bytes)
            )),
            Event::StageStarted(s) => preview.push_str(&format!(
                "  stage {} {}: {}\n",
                s.index.saturating_add(1),
                s.name,
                if s.units.is_empty() {
                    "no units found".to_owned()
                } else {
                    s.units.join(", ")
                }
            )),
            _ => {}
        }
    }
    preview.push_str(&format!("Run {stages} stages on {host} now? [y/N] "));
    preview
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_proto::event::{PreflightCheck, StageStarted};

    use super::*;

    fn envelope(event: Event) -> Envelope {
        Envelope {
            seq: 0,
            at_ms: 0,
            elapsed_ms: 0,
            event,
        }
    }

    #[test]
    fn the_preview_lists_preflight_and_stages_then_asks() {
        let events = [
            envelope(Event::PreflightCheck(PreflightCheck {
                path: "/mnt/nas-backup".into(),
                min_free_bytes: 50 << 30,
                free_bytes: Some(60 << 30),
                passed: true,
                error: None,
            })),
            envelope(Event::StageStarted(StageStarted {
                index: 0,
                name: "snapshots".into(),
                units: vec!["sanoid.service".into()],
                parallel: 1,
                timeout_secs: 60,
            })),
            envelope(Event::StageStarted(StageStarted {
                index: 1,
                name: "replication".into(),
                units: vec![],
                parallel: 0,
                timeout_secs: 60,
            })),
        ];
        assert_eq!(
            run_preview("/etc/backup-orchestrator/plan.toml", "forge", &events, 2),
            "Plan /etc/backup-orchestrator/plan.toml on forge:\n  \
             preflight: /mnt/nas-backup needs 50GB free\n  \
             stage 1 snapshots: sanoid.service\n  \
             stage 2 replication: no units found\n\
             Run 2 stages on forge now? [y/N] "
        );
    }
}
