//! `backup-orchestrator-ctl doctor TARGET…`: a checklist per host of everything a run needs, each
//! failure with its fix: [`run`].
//!
//! ```text
//!  resolves ─▶ reachable ─▶ host key known ─▶ auth         (connect; a failure skips the rest)
//!  ─▶ sudo rule (sudo -n -l) ─▶ agent (Hello via sudo -n AGENT serve) ─▶ plan parses (dry run)
//!  ─▶ preflight PATH… (mountpoint -q) ─▶ D-Bus (busctl) ─▶ state directory (stat)
//! ```
//!
//! Nothing needs more than the `serve` sudo rule: everything else runs as the SSH user. The
//! preflight paths are the host plan's, as the agent's dry run reports them; when there is no dry
//! run (no agent, no rule, a broken plan), the default plan's paths are checked and the line says
//! so. Exit 0 when no check failed, 3 otherwise.

mod agent;
mod host_checks;

use std::sync::Arc;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_render::{
    Check, HostChecklist, OutputMode, PipeState, doctor_json, doctor_text, error_chain,
};
use futures_util::StreamExt;

use crate::error::CtlError;
use crate::remote::RemoteContext;
use crate::ssh::connect::{self, Connection};
use crate::ssh::connect_error::{ConnectError, Stage};
use crate::ssh::endpoint::Target;

/// The default plan's preflight paths (the agent's `Plan::default`), checked when the host's own
/// plan cannot be read.
const DEFAULT_PREFLIGHT_PATHS: &[&str] = &["/mnt/nas-backup", "/mnt/nas-postgresql"];

/// Checks every target at once; prints each host's checklist as it ends (or the JSON list at the
/// end).
pub async fn run(
    targets: Vec<Target>,
    agent_path: &str,
    mode: OutputMode,
) -> Result<i32, CtlError> {
    let mut pending: futures_util::stream::FuturesOrdered<_> = targets
        .iter()
        .map(|target| check_host(target, agent_path))
        .collect();
    let mut pipe = PipeState::default();
    let mut lists = Vec::new();
    while let Some(list) = pending.next().await {
        if matches!(mode, OutputMode::Plain | OutputMode::Bars) {
            print(&mut pipe, &doctor_text(&list))?;
        }
        lists.push(list);
    }
    if mode == OutputMode::Json {
        print(&mut pipe, &doctor_json(&lists))?;
    }
    Ok(if lists.iter().all(HostChecklist::passed) {
        exit_codes::SUCCESS
    } else {
        exit_codes::COULD_NOT_RUN
    })
}

fn print(pipe: &mut PipeState, text: &str) -> Result<(), CtlError> {
    use std::io::Write;
    pipe.write(|| {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    })
    .map_err(CtlError::Output)
}

/// One host's checklist.
async fn check_host(target: &Target, agent_path: &str) -> HostChecklist {
    let context = RemoteContext {
        host: target.label.clone(),
        user: target.endpoint.user.clone(),
        agent_path: agent_path.to_owned(),
    };
    let mut list = HostChecklist {
        host: target.label.clone(),
        checks: Vec::new(),
    };
    let connection = match connection_checks(target, &mut list.checks).await {
        Some(connection) => Arc::new(connection),
        None => return list,
    };
    list.checks
        .push(host_checks::sudo_rule_check(&connection, &context).await);
    let (agent, session) = agent::agent_check(&connection, &context, target.connect_timeout).await;
    list.checks.push(agent);
    let preflight = match session {
        Some(session) => {
            let findings = agent::plan_check(session, &context.host).await;
            list.checks.push(findings.check);
            findings.preflight
        }
        None => {
            list.checks.push(Check::skipped(
                "plan parses",
                "not checked: needs the agent",
            ));
            None
        }
    };
    match preflight {
        Some(measured) => {
            for check in &measured {
                let line =
                    host_checks::path_check(&connection, &check.path, Some(check), "the plan's")
                        .await;
                list.checks.push(line);
            }
        }
        None => {
            for path in DEFAULT_PREFLIGHT_PATHS {
                let line = host_checks::path_check(
                    &connection,
                    path,
                    None,
                    "the default plan's path: the host's plan could not be read",
                )
                .await;
                list.checks.push(line);
            }
        }
    }
    list.checks.push(host_checks::dbus_check(&connection).await);
    list.checks
        .push(host_checks::state_dir_check(&connection).await);
    list
}

/// resolves, reachable, host key known, auth: the connection, or the first step that failed
/// (the later ones skipped).
async fn connection_checks(target: &Target, checks: &mut Vec<Check>) -> Option<Connection> {
    let endpoint = &target.endpoint;
    let host = &target.label;
    let steps = ["resolves", "reachable", "host key known", "auth"];
    let skip_after = |checks: &mut Vec<Check>, failed: usize| {
        for step in &steps[failed + 1..] {
            checks.push(Check::skipped(
                *step,
                format!("not checked: `{}` failed", steps[failed]),
            ));
        }
    };
    if target.jumps.is_empty() {
        let lookup = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)).await;
        match lookup.map(|mut addresses| addresses.next()) {
            Ok(Some(address)) => checks.push(Check::pass(
                steps[0],
                format!("{} is {}", endpoint.host, address.ip()),
            )),
            Ok(None) | Err(_) => {
                checks.push(Check::fail(
                    steps[0],
                    format!("{} does not resolve to an address", endpoint.host),
                    format!("check HostName for {host} in the SSH config, or the name's DNS entry"),
                ));
                skip_after(checks, 0);
                return None;
            }
        }
    } else {
        checks.push(Check::pass(
            steps[0],
            format!("{} is resolved by its ProxyJump host", endpoint.host),
        ));
    }
    match connect::connect(target).await {
        Ok(connection) => {
            checks.push(Check::pass(
                steps[1],
                format!("SSH at {}", connection.address),
            ));
            checks.push(Check::pass(steps[2], "the host key matches known_hosts"));
            checks.push(Check::pass(
                steps[3],
                format!("logged in as {}", endpoint.user),
            ));
            Some(connection)
        }
        Err(error) => {
            let failed = failed_step(&error);
            for step in &steps[1..failed] {
                checks.push(Check::pass(*step, "ok"));
            }
            let fix = match failed {
                1 => "is the host up, sshd running, and the port right? (--connect-timeout waits longer)"
                    .to_owned(),
                2 => format!(
                    "if the host is new, check its key and add it (--accept-new-host-key, or ssh {host} once); \
                     if it changed, find out why before trusting it"
                ),
                _ => format!(
                    "put your public key in {}'s ~/.ssh/authorized_keys on the host, or pass -i KEY",
                    endpoint.user
                ),
            };
            checks.push(Check::fail(steps[failed], error_chain(&error), fix));
            skip_after(checks, failed);
            None
        }
    }
}

/// Which step a connect error belongs to: 1 reachable, 2 host key, 3 auth.
fn failed_step(error: &ConnectError) -> usize {
    match error {
        ConnectError::HostKey(_) => 2,
        ConnectError::Auth(_)
        | ConnectError::Timeout {
            stage: Stage::Auth, ..
        } => 3,
        ConnectError::Tcp { .. }
        | ConnectError::Timeout { .. }
        | ConnectError::Handshake { .. }
        | ConnectError::Tunnel { .. }
        | ConnectError::Exec { .. } => 1,
    }
}
