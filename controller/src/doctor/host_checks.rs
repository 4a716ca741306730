//! The checks made with plain commands as the SSH user, no sudo needed: the sudo rule as
//! `sudo -n -l` lists it ([`sudo_rule_check`]), preflight paths ([`path_check`]), D-Bus
//! ([`dbus_check`]) and the state directory ([`state_dir_check`]).

use std::sync::Arc;
use std::time::Duration;

use backup_orchestrator_proto::event::PreflightCheck;
use backup_orchestrator_render::{Check, error_chain, preflight_failure};

use crate::install::DEFAULT_AGENT_PATH;
use crate::remote::RemoteContext;
use crate::ssh::command::{self, CommandOutput};
use crate::ssh::connect::Connection;
use crate::ssh::exec::shell_quote;

const QUICK: Duration = Duration::from_secs(30);
/// The agent's state directory (the agent's `runlog::STATE_DIR`; the controller does not build
/// the agent).
const STATE_DIR: &str = "/var/lib/backup-orchestrator";

/// Runs `command`; a command that could not run at all is a failed check named `name`.
async fn ask(
    connection: &Arc<Connection>,
    name: &str,
    command: &str,
) -> Result<CommandOutput, Check> {
    command::run(connection, command, None, QUICK)
        .await
        .map_err(|e| {
            Check::fail(
                name,
                error_chain(&e),
                "run doctor again; is the host overloaded?",
            )
        })
}

/// The "sudo rule" line: `sudo -n -l` must list exactly `(root) NOPASSWD: AGENT serve`, AGENT
/// being `--agent-path` when absolute, else any absolute path ending in it.
pub async fn sudo_rule_check(connection: &Arc<Connection>, context: &RemoteContext) -> Check {
    let name = "sudo rule";
    let wanted_path = if context.agent_path.starts_with('/') {
        context.agent_path.clone()
    } else {
        DEFAULT_AGENT_PATH.to_owned()
    };
    let line = RemoteContext {
        agent_path: wanted_path.clone(),
        ..context.clone()
    }
    .sudoers_line();
    let fix = format!(
        "backup-orchestrator-ctl install {host}, or add to /etc/sudoers.d/backup-orchestrator:\n\
         {line}\n(on NixOS: services.backup-orchestrator.controllerUsers = [ \"{user}\" ])",
        host = context.host,
        user = context.user
    );
    let listed = match ask(connection, name, "sudo -n -l").await {
        Ok(listed) => listed,
        Err(check) => return check,
    };
    if !listed.success() {
        let said = listed.exit.stderr.trim();
        return Check::fail(
            name,
            format!(
                "sudo will not list {}'s rules without a password ({said}): no NOPASSWD rule",
                context.user
            ),
            fix,
        );
    }
    match find_rule(&listed.stdout, &context.agent_path) {
        RuleFound::Exact(path) => Check::pass(name, format!("(root) NOPASSWD: {path} serve")),
        RuleFound::Inexact(rule) => Check::fail(
            name,
            format!(
                "the rule for the agent is not exact: `{rule}`; wanted `(root) NOPASSWD: {wanted_path} serve`"
            ),
            fix,
        ),
        RuleFound::None => Check::fail(
            name,
            format!("sudo lists no rule for {} to run the agent", context.user),
            fix,
        ),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RuleFound {
    /// The agent's absolute path in the exact rule.
    Exact(String),
    /// A listed rule that names the agent but is not the exact one.
    Inexact(String),
    None,
}

fn find_rule(listing: &str, agent_path: &str) -> RuleFound {
    let name = agent_path.rsplit('/').next().unwrap_or(agent_path);
    let candidates = listing.lines().map(str::trim).filter_map(|line| {
        let command = line.strip_prefix("(root) NOPASSWD: ")?;
        let path = command.strip_suffix(" serve")?;
        let matches = if agent_path.starts_with('/') {
            path == agent_path
        } else {
            path.starts_with('/') && path.ends_with(&format!("/{name}"))
        };
        matches.then(|| path.to_owned())
    });
    if let Some(path) = candidates.into_iter().next() {
        return RuleFound::Exact(path);
    }
    match listing
        .lines()
        .map(str::trim)
        .find(|line| line.contains(name) && line.starts_with('('))
    {
        Some(rule) => RuleFound::Inexact(rule.to_owned()),
        None => RuleFound::None,
    }
}

/// The "preflight PATH" line: the path exists, is a mount point (else preflight measures the
/// filesystem under it: the classic silent failure) and, when the agent measured it, has room.
pub async fn path_check(
    connection: &Arc<Connection>,
    path: &str,
    measured: Option<&PreflightCheck>,
    source: &str,
) -> Check {
    let name = format!("preflight {path}");
    let quoted = shell_quote(path);
    let command = format!(
        "if [ ! -e {quoted} ]; then echo missing; elif mountpoint -q {quoted}; then echo mount; else echo plain; fi"
    );
    let answer = match ask(connection, &name, &command).await {
        Ok(answer) => answer,
        Err(check) => return check,
    };
    let mount_fix = format!(
        "mount the NAS share at {path} (check /etc/fstab or its mount unit; `findmnt {path}` shows what is there)"
    );
    match answer.stdout.trim() {
        "missing" => Check::fail(&name, format!("does not exist ({source})"), mount_fix),
        "plain" => Check::fail(
            &name,
            format!(
                "exists but is not a mount point ({source}): a run would measure and fill the filesystem under it"
            ),
            mount_fix,
        ),
        "mount" => match measured {
            Some(check) if !check.passed => Check::fail(
                &name,
                preflight_failure(check),
                format!("free space on {path}, or lower its min_free in the plan"),
            ),
            _ => Check::pass(&name, format!("a mount point ({source})")),
        },
        _ => Check::fail(
            &name,
            format!("could not check it: {}", answer.exit.stderr.trim()),
            "install util-linux (mountpoint) on the host",
        ),
    }
}

/// The "D-Bus" line: systemd answers on the system bus (what the agent talks to).
pub async fn dbus_check(connection: &Arc<Connection>) -> Check {
    let name = "D-Bus";
    let command = "busctl --system --no-pager get-property org.freedesktop.systemd1 \
                   /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager Version";
    match ask(connection, name, command).await {
        Err(check) => check,
        Ok(answer) if answer.success() => {
            let version = answer
                .stdout
                .trim()
                .trim_start_matches("s ")
                .trim_matches('"');
            Check::pass(name, format!("systemd {version} answers on the system bus"))
        }
        Ok(answer) => Check::fail(
            name,
            format!(
                "systemd does not answer on the system bus: {}",
                answer.exit.stderr.trim()
            ),
            "the agent needs systemd and the system bus: `systemctl status dbus` on the host",
        ),
    }
}

/// The "state directory" line: owned by root and writable by root alone (runs keep their logs
/// there), or not created yet.
pub async fn state_dir_check(connection: &Arc<Connection>) -> Check {
    let name = "state directory";
    let command = format!("stat -c '%U %a' {STATE_DIR}");
    let answer = match ask(connection, name, &command).await {
        Ok(answer) => answer,
        Err(check) => return check,
    };
    let fix = format!("sudo chown root:root {STATE_DIR} && sudo chmod 0755 {STATE_DIR}");
    if !answer.success() {
        return if answer.exit.stderr.contains("No such file") {
            Check::pass(
                name,
                format!("{STATE_DIR} not made yet; the first run makes it"),
            )
        } else {
            Check::fail(name, answer.exit.stderr.trim().to_owned(), fix)
        };
    }
    let seen = answer.stdout.trim();
    match seen.split_once(' ') {
        Some(("root", mode))
            if u32::from_str_radix(mode, 8).is_ok_and(|mode| mode & 0o022 == 0) =>
        {
            Check::pass(name, format!("{STATE_DIR}: owner root, mode {mode}"))
        }
        _ => Check::fail(
            name,
            format!("{STATE_DIR} is `{seen}` (owner, mode): others could forge or hide run logs"),
            fix,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "User deploy may run the following commands on h1:\n    \
                           (ALL : ALL) NOPASSWD: ALL\n    (root) NOPASSWD: /usr/local/bin/backup-orchestrator serve\n";

    #[test]
    fn doctor_finds_the_exact_rule_by_absolute_path_or_by_name() {
        let exact = RuleFound::Exact("/usr/local/bin/backup-orchestrator".into());
        assert_eq!(
            find_rule(LISTING, "/usr/local/bin/backup-orchestrator"),
            exact
        );
        assert_eq!(find_rule(LISTING, "backup-orchestrator"), exact);
        assert_eq!(
            find_rule(LISTING, "/opt/backup-orchestrator"),
            RuleFound::Inexact("(root) NOPASSWD: /usr/local/bin/backup-orchestrator serve".into())
        );
    }

    #[test]
    fn doctor_calls_a_rule_without_serve_inexact() {
        let listing = "    (ALL) NOPASSWD: /usr/local/bin/backup-orchestrator\n";
        assert_eq!(
            find_rule(listing, "backup-orchestrator"),
            RuleFound::Inexact("(ALL) NOPASSWD: /usr/local/bin/backup-orchestrator".into())
        );
        assert_eq!(
            find_rule("    (ALL : ALL) NOPASSWD: ALL\n", "backup-orchestrator"),
            RuleFound::None
        );
    }
}
