//! The agent's part of the checklist, asked the way a run asks: a Hello through
//! `sudo -n AGENT serve` ([`agent_check`]), then a dry run ([`plan_check`]), which makes the agent
//! parse the host's plan, match its patterns against systemd over D-Bus and measure its preflight
//! paths, all without starting anything. That is how the plan is checked with nothing but the
//! `serve` sudo rule: the agent's own `check-plan` would need sudo for a second command.

use std::sync::Arc;
use std::time::Duration;

use backup_orchestrator_proto::{
    Event, RefusalKind, Reply, Request, RunOptions, event::PreflightCheck,
};
use backup_orchestrator_render::{Check, error_chain};

use crate::remote::RemoteContext;
use crate::session::{self, Session};
use crate::ssh::connect::Connection;
use crate::ssh::deadline::Deadline;
use crate::ssh::exec;

const HELLO_TIMEOUT: Duration = Duration::from_secs(15);
/// A dry run lists units and measures disks: quick, but not instant on a busy host.
const DRY_RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The "agent" line, and the session when the agent answered.
pub async fn agent_check(
    connection: &Arc<Connection>,
    context: &RemoteContext,
    connect_timeout: Duration,
) -> (Check, Option<Session>) {
    let name = "agent";
    let install = format!("backup-orchestrator-ctl install {}", context.host);
    let deadline = Deadline::after(connect_timeout);
    let command = exec::agent_command(&context.agent_path);
    let channel = match exec::spawn_command(connection, &command, &deadline).await {
        Ok(channel) => channel,
        Err(e) => return (Check::fail(name, error_chain(&e), install), None),
    };
    let session = match session::start(channel, context, HELLO_TIMEOUT).await {
        Ok(session) => session,
        Err(e) => return (Check::fail(name, error_chain(&e), install), None),
    };
    let ours = format!("backup-orchestrator {}", env!("CARGO_PKG_VERSION"));
    let theirs = session.peer_software().to_owned();
    let check = if theirs == ours {
        Check::pass(name, format!("{theirs}, the controller's version"))
    } else {
        Check::fail(
            name,
            format!(
                "{theirs} answers, but this controller is {}",
                session::software()
            ),
            format!("{install} (or update the package on NixOS)"),
        )
    };
    (check, Some(session))
}

/// What the dry run said about the plan, and the preflight checks it made.
pub struct PlanFindings {
    pub check: Check,
    /// `None` when the dry run did not get as far as preflight.
    pub preflight: Option<Vec<PreflightCheck>>,
}

/// The "plan parses" line, from a dry run.
pub async fn plan_check(mut session: Session, host: &str) -> PlanFindings {
    let name = "plan parses";
    let fix_plan = "correct the plan on the host (`sudo backup-orchestrator check-plan` points \
                    at the line); /etc/backup-orchestrator/plan.toml unless --plan says otherwise";
    let failed = |detail: String, fix: &str| PlanFindings {
        check: Check::fail(name, detail, fix),
        preflight: None,
    };
    if let Err(e) = session.require("run") {
        return failed(
            error_chain(&e),
            &format!("backup-orchestrator-ctl install {host}"),
        );
    }
    let request = Request::Run(RunOptions {
        dry_run: true,
        stop_units_on_timeout: false,
    });
    if let Err(e) = session.send(&request).await {
        return failed(error_chain(&e), "run doctor again");
    }
    let mut preflight = Vec::new();
    let mut outline = String::new();
    let mut empty_stages = Vec::new();
    let collect = async {
        loop {
            match session.single_reply().await? {
                Reply::Event(envelope) => match envelope.event {
                    Event::RunStarted(started) => {
                        outline = format!(
                            "{} stages from {}",
                            started.plan.stages.len(),
                            started.plan.source
                        );
                    }
                    Event::PreflightCheck(check) => preflight.push(check),
                    Event::StageStarted(stage) if stage.units.is_empty() => {
                        empty_stages.push(stage.name)
                    }
                    Event::RunFinished(_) => return Ok(None),
                    _ => {}
                },
                Reply::Refused(refusal) => return Ok(Some(refusal)),
                other => return Err(session.unexpected(&other)),
            }
        }
    };
    let refusal = match tokio::time::timeout(DRY_RUN_TIMEOUT, collect).await {
        Err(_) => {
            return failed(
                format!(
                    "the agent's dry run did not end within {} s",
                    DRY_RUN_TIMEOUT.as_secs()
                ),
                "look at the host's journal (journalctl -t backup-orchestrator)",
            );
        }
        Ok(Err(e)) => return failed(error_chain(&e), "run doctor again"),
        Ok(Ok(refusal)) => refusal,
    };
    match refusal {
        Some(refusal) if refusal.kind == RefusalKind::PlanInvalid => {
            failed(refusal.message, fix_plan)
        }
        Some(refusal) => failed(
            format!("the agent could not preview a run: {}", refusal.message),
            "see the message; `busctl --system status` on the host tells whether D-Bus works",
        ),
        None => {
            let mut detail = format!("{outline}; a dry run goes through");
            if !empty_stages.is_empty() {
                detail.push_str(&format!(
                    " (matching no unit on this host: {})",
                    empty_stages.join(", ")
                ));
            }
            PlanFindings {
                check: Check::pass(name, detail),
                preflight: Some(preflight),
            }
        }
    }
}
