//! What went wrong on the host, in words that say what to do: [`RemoteFailure`].
//!
//! The agent is started as `sudo -n AGENT serve` in an exec channel. When it does not answer with a
//! Hello, the reason is in what the channel left behind (stderr, the exit status, or text on stdout
//! where frames should be); [`classify_start_failure`] reads it:
//!
//! | seen | failure |
//! |---|---|
//! | `sudo: a password is required`, `a terminal is required` | [`RemoteFailure::SudoPassword`], with the sudoers line that fixes it |
//! | `… is not in the sudoers file`, `… is not allowed to execute …` | [`RemoteFailure::SudoNotPermitted`] |
//! | `sh: sudo: not found` | [`RemoteFailure::SudoMissing`] |
//! | `sudo: AGENT: command not found`, exit 127 | [`RemoteFailure::AgentMissing`], with how to install it |
//! | other text on stdout | [`RemoteFailure::Garbage`], quoting it |
//! | nothing useful | [`RemoteFailure::AgentFailed`], with status and stderr |

use backup_orchestrator_proto::Incompatibility;

use crate::transport::RemoteExit;

/// Where NixOS puts a system package's binaries; sudoers needs an absolute path.
const NIXOS_SYSTEM_BIN: &str = "/run/current-system/sw/bin";

/// Who runs what where, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteContext {
    /// The host as the user named it.
    pub host: String,
    /// The remote login user (the one sudo runs for).
    pub user: String,
    /// `--agent-path`.
    pub agent_path: String,
}

impl RemoteContext {
    /// The sudoers rule that lets `user` run the agent's `serve` without a password.
    pub fn sudoers_line(&self) -> String {
        format!(
            "{} ALL=(root) NOPASSWD: {} serve",
            self.user,
            self.absolute_agent_path()
        )
    }

    fn absolute_agent_path(&self) -> String {
        if self.agent_path.starts_with('/') {
            self.agent_path.clone()
        } else {
            format!("{NIXOS_SYSTEM_BIN}/{}", self.agent_path)
        }
    }

    /// A note on the path in the sudoers line when it was guessed.
    fn path_note(&self) -> String {
        if self.agent_path.starts_with('/') {
            String::new()
        } else {
            format!(
                "\n(That is the path on NixOS; elsewhere use the one `command -v {}` prints on the host.)",
                self.agent_path
            )
        }
    }
}

/// The agent could not be started or spoken to (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum RemoteFailure {
    #[error(
        "{host}: sudo wants a password for {user}, and backup-orchestrator-ctl never types one (it \
         runs `sudo -n`). Let {user} run the agent without a password with this sudoers rule (on \
         NixOS the backup-orchestrator module writes it: services.backup-orchestrator.controllerUsers \
         = [ \"{user}\" ]):\n  {sudoers_line}{note}"
    )]
    SudoPassword {
        host: String,
        user: String,
        sudoers_line: String,
        note: String,
    },
    #[error(
        "{host}: {user} may not run the agent with sudo (sudo said: {said}). Add this sudoers rule:\n  {sudoers_line}{note}"
    )]
    SudoNotPermitted {
        host: String,
        user: String,
        said: String,
        sudoers_line: String,
        note: String,
    },
    #[error(
        "{host}: sudo is not installed ({said}); install it and add this sudoers rule:\n  {sudoers_line}{note}"
    )]
    SudoMissing {
        host: String,
        said: String,
        sudoers_line: String,
        note: String,
    },
    #[error(
        "{host}: the agent `{agent_path}` is not installed, or not on sudo's PATH ({said}).\n\
         Install it as the README's \"Installing the agent\" section describes: on NixOS, import \
         ansible-free-deploy/module.nix and set services.backup-orchestrator.enable = true; \
         elsewhere, run `backup-orchestrator-ctl install {host}`. Or pass --agent-path with the \
         agent's absolute path on the host."
    )]
    AgentMissing {
        host: String,
        agent_path: String,
        said: String,
    },
    #[error(
        "{host}: {source}; to bring the agent to this version: backup-orchestrator-ctl install {host}"
    )]
    Incompatible {
        host: String,
        #[source]
        source: Incompatibility,
    },
    #[error(
        "{host}: the agent ({agent}) does not support `{capability}`; upgrade the agent on {host}: \
         backup-orchestrator-ctl install {host}"
    )]
    MissingCapability {
        host: String,
        capability: String,
        agent: String,
    },
    #[error(
        "{host}: expected the agent's protocol on its stdout, got {seen}. Something on the host \
         (a login script, a wrapper, or a wrong --agent-path) writes there."
    )]
    Garbage { host: String, seen: String },
    #[error("{host}: the agent ({agent}) answered with {reply}, which does not fit the request")]
    Unexpected {
        host: String,
        agent: String,
        reply: String,
    },
    #[error("{host}: `{command}` ended without answering{}{}", status_text(*status, signal.as_deref()), stderr_text(stderr))]
    AgentFailed {
        host: String,
        command: String,
        status: Option<u32>,
        signal: Option<String>,
        stderr: String,
    },
    #[error(
        "{host}: the SSH server refused to run a command for this user (a ForceCommand or restricted key?)"
    )]
    ExecRefused { host: String },
    #[error(
        "{host}: the agent did not answer within {secs} s{}",
        stderr_text(stderr)
    )]
    NoHello {
        host: String,
        secs: u64,
        stderr: String,
    },
}

fn status_text(status: Option<u32>, signal: Option<&str>) -> String {
    match (status, signal) {
        (_, Some(signal)) => format!(" (killed by signal {signal})"),
        (Some(status), None) => format!(" (exit status {status})"),
        (None, None) => String::new(),
    }
}

fn stderr_text(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; its stderr:\n{stderr}")
    }
}

/// Why the agent did not say Hello, from the text seen on stdout (if any) and the process's exit.
pub fn classify_start_failure(
    context: &RemoteContext,
    stdout_text: Option<&str>,
    exit: &RemoteExit,
) -> RemoteFailure {
    let host = context.host.clone();
    if exit.exec_refused {
        return RemoteFailure::ExecRefused { host };
    }
    let mut lines: Vec<&str> = exit
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(text) = stdout_text {
        lines.push(text.trim());
    }
    let find = |needles: &[&str]| {
        lines
            .iter()
            .find(|line| needles.iter().any(|needle| line.contains(needle)))
            .map(|line| (*line).to_owned())
    };

    if find(&[
        "a password is required",
        "a terminal is required",
        "no tty present",
    ])
    .is_some()
    {
        return RemoteFailure::SudoPassword {
            host,
            user: context.user.clone(),
            sudoers_line: context.sudoers_line(),
            note: context.path_note(),
        };
    }
    if let Some(said) = find(&[
        "is not in the sudoers file",
        "is not allowed to execute",
        "is not allowed to run sudo",
        "must have a tty to run sudo",
    ]) {
        return RemoteFailure::SudoNotPermitted {
            host,
            user: context.user.clone(),
            said,
            sudoers_line: context.sudoers_line(),
            note: context.path_note(),
        };
    }
    let sudo_missing = lines.iter().find(|line| {
        *line == &"sudo: command not found"
            || line.ends_with(": sudo: command not found")
            || line.ends_with(": sudo: not found")
    });
    if let Some(said) = sudo_missing {
        return RemoteFailure::SudoMissing {
            host,
            said: (*said).to_owned(),
            sudoers_line: context.sudoers_line(),
            note: context.path_note(),
        };
    }
    if let Some(said) = find(&[
        "command not found",
        ": not found",
        "No such file or directory",
    ]) {
        return RemoteFailure::AgentMissing {
            host,
            agent_path: context.agent_path.clone(),
            said,
        };
    }
    if exit.status == Some(127) {
        return RemoteFailure::AgentMissing {
            host,
            agent_path: context.agent_path.clone(),
            said: "exit status 127".to_owned(),
        };
    }
    if let Some(text) = stdout_text {
        return RemoteFailure::Garbage {
            host,
            seen: format!("text {text:?}"),
        };
    }
    RemoteFailure::AgentFailed {
        host,
        command: format!("sudo -n {} serve", context.agent_path),
        status: exit.status,
        signal: exit.signal.clone(),
        stderr: exit.stderr.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(agent_path: &str) -> RemoteContext {
        RemoteContext {
            host: "forge".into(),
            user: "deploy".into(),
            agent_path: agent_path.into(),
        }
    }

    fn exit(status: Option<u32>, stderr: &str) -> RemoteExit {
        RemoteExit {
            stderr: stderr.into(),
            status,
            finished: true,
            ..RemoteExit::default()
        }
    }

    #[test]
    fn classify_sees_sudo_wanting_a_password_and_prints_the_sudoers_line() {
        let failure = classify_start_failure(
            &context("backup-orchestrator"),
            None,
            &exit(Some(1), "sudo: a password is required\n"),
        );
        let message = failure.to_string();
        assert!(
            matches!(failure, RemoteFailure::SudoPassword { .. }),
            "{message}"
        );
        assert!(
            message.contains(
                "deploy ALL=(root) NOPASSWD: /run/current-system/sw/bin/backup-orchestrator serve"
            ),
            "{message}"
        );
        assert!(
            message.contains("command -v backup-orchestrator"),
            "{message}"
        );
    }

    #[test]
    fn classify_uses_an_absolute_agent_path_in_the_sudoers_line() {
        let failure = classify_start_failure(
            &context("/opt/bo/bin/backup-orchestrator"),
            Some("sudo: a terminal is required to read the password"),
            &exit(Some(1), ""),
        );
        let message = failure.to_string();
        assert!(
            message.contains("deploy ALL=(root) NOPASSWD: /opt/bo/bin/backup-orchestrator serve"),
            "{message}"
        );
        assert!(!message.contains("command -v"), "{message}");
    }

    #[test]
    fn classify_sees_a_missing_agent_from_sudo_or_the_shell() {
        for (status, stderr) in [
            (Some(1), "sudo: backup-orchestrator: command not found\n"),
            (Some(1), "sudo: /nonexistent: command not found\n"),
            (Some(127), ""),
        ] {
            let failure = classify_start_failure(
                &context("backup-orchestrator"),
                None,
                &exit(status, stderr),
            );
            let message = failure.to_string();
            assert!(
                matches!(failure, RemoteFailure::AgentMissing { .. }),
                "{stderr}: {message}"
            );
            assert!(message.contains("Installing the agent"), "{message}");
            assert!(
                message.contains("backup-orchestrator-ctl install forge"),
                "{message}"
            );
            assert!(message.contains("--agent-path"), "{message}");
        }
    }

    #[test]
    fn classify_tells_a_missing_sudo_from_a_missing_agent() {
        for stderr in [
            "bash: line 1: sudo: command not found",
            "sh: 1: sudo: not found",
        ] {
            let failure = classify_start_failure(
                &context("backup-orchestrator"),
                None,
                &exit(Some(127), stderr),
            );
            assert!(
                matches!(failure, RemoteFailure::SudoMissing { .. }),
                "{stderr}: {failure}"
            );
        }
    }

    #[test]
    fn classify_sees_a_user_not_allowed_by_sudoers() {
        let failure = classify_start_failure(
            &context("backup-orchestrator"),
            None,
            &exit(
                Some(1),
                "Sorry, user deploy is not allowed to execute '/run/current-system/sw/bin/backup-orchestrator serve' as root on forge.\n",
            ),
        );
        assert!(
            matches!(failure, RemoteFailure::SudoNotPermitted { .. }),
            "{failure}"
        );
    }

    #[test]
    fn classify_quotes_other_text_and_otherwise_reports_status_and_stderr() {
        let garbage = classify_start_failure(
            &context("x"),
            Some("Last login: yesterday"),
            &exit(Some(0), ""),
        );
        assert!(
            garbage.to_string().contains("\"Last login: yesterday\""),
            "{garbage}"
        );

        let failed = classify_start_failure(
            &context("x"),
            None,
            &exit(Some(70), "agent: cannot open /var/lib/x\n"),
        );
        let message = failed.to_string();
        assert!(message.contains("exit status 70"), "{message}");
        assert!(message.contains("cannot open /var/lib/x"), "{message}");
    }
}
