//! One host's install, start to end: [`install_host`].
//!
//! ```text
//!  connect ─▶ look (no sudo): sha256sum AGENT_PATH, sudo -n -l ─▶ both as wanted? ─ yes ─▶ "already installed"
//!                                                                   │ no
//!  find_sudo (once) ─▶ upload to mktemp (as the user, if the agent differs) ─▶ privileged script:
//!  copy next to AGENT_PATH, check sha256, run --version, rename; rule: visudo -c, 0440, rename
//!  ─────────────────────────────▶ in every case: Hello through `sudo -n AGENT_PATH serve`
//! ```
//!
//! The last step proves what a run needs, with the rule alone: the installed agent answers through
//! the installed sudo rule, and its Hello names its version.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_orchestrator_render::{InstallReport, InstallResult};
use tokio::sync::Mutex;

use super::error::{HostInstallError, InstallError};
use super::local_agent::{LocalAgent, SUDOERS_FILE};
use super::sudo::{Privileged, find_sudo, run_privileged};
use crate::remote::RemoteContext;
use crate::session;
use crate::ssh::command;
use crate::ssh::connect::{self, Connection};
use crate::ssh::deadline::Deadline;
use crate::ssh::endpoint::Target;
use crate::ssh::exec::{self, shell_quote};

const QUICK: Duration = Duration::from_secs(30);
/// Uploading and copying the agent: generous, since a dead link is noticed by the keepalives.
const SLOW: Duration = Duration::from_secs(600);
/// The agent gets this long to say Hello after the install.
const HELLO_TIMEOUT: Duration = Duration::from_secs(15);

/// What one host's install is about.
#[derive(Debug)]
pub struct HostInstall {
    pub target: Target,
    pub agent: Arc<LocalAgent>,
    /// Absolute.
    pub agent_path: String,
}

impl HostInstall {
    fn context(&self) -> RemoteContext {
        RemoteContext {
            host: self.target.label.clone(),
            user: self.target.endpoint.user.clone(),
            agent_path: self.agent_path.clone(),
        }
    }

    /// `USER ALL=(root) NOPASSWD: AGENT_PATH serve`.
    pub fn sudoers_line(&self) -> String {
        self.context().sudoers_line()
    }
}

/// Installs on one host; the report carries the failure, if any, in words.
pub async fn install_host(job: &HostInstall, prompt_lock: &Mutex<()>) -> InstallReport {
    let started = Instant::now();
    let mut report = InstallReport {
        host: job.target.label.clone(),
        result: InstallResult::Failed,
        agent_path: job.agent_path.clone(),
        sha256: job.agent.sha256.clone(),
        version: None,
        agent_changed: false,
        rule_changed: false,
        duration_ms: 0,
        error: None,
    };
    match install(job, prompt_lock, &mut report).await {
        Ok(version) => {
            report.version = Some(version);
            report.result = if report.agent_changed || report.rule_changed {
                InstallResult::Installed
            } else {
                InstallResult::AlreadyInstalled
            };
        }
        Err(error) => {
            let failure = HostInstallError {
                host: job.target.label.clone(),
                sudoers_line: job.sudoers_line(),
                agent_path: job.agent_path.clone(),
                source: error,
            };
            report.error = Some(backup_orchestrator_render::error_chain(&failure));
        }
    }
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

async fn install(
    job: &HostInstall,
    prompt_lock: &Mutex<()>,
    report: &mut InstallReport,
) -> Result<String, InstallError> {
    let connection = Arc::new(connect::connect(&job.target).await?);
    let rule = job.sudoers_line();
    let quoted_path = shell_quote(&job.agent_path);

    let installed = command::run(
        &connection,
        &format!("sha256sum {quoted_path}"),
        None,
        QUICK,
    )
    .await?;
    let agent_current = installed.success()
        && installed.stdout.split_whitespace().next() == Some(job.agent.sha256.as_str());
    let listed = command::run(&connection, "sudo -n -l", None, QUICK).await?;
    let rule_current = listed.success() && lists_rule(&listed.stdout, &job.agent_path);
    tracing::debug!(agent_current, rule_current, "what the host has");

    if !(agent_current && rule_current) {
        let sudo = find_sudo(
            &connection,
            &job.target.label,
            &job.target.endpoint.user,
            prompt_lock,
        )
        .await?;
        let upload = if agent_current {
            None
        } else {
            Some(upload(&connection, &job.agent.path).await?)
        };
        let work = Privileged {
            upload: upload
                .as_deref()
                .map(|tmp| (tmp, job.agent.sha256.as_str())),
            agent_path: &job.agent_path,
            rule_file: SUDOERS_FILE,
            rule: (!rule_current).then_some(rule.as_str()),
        };
        run_privileged(&sudo, &connection, &work, SLOW).await?;
        report.agent_changed = !agent_current;
        report.rule_changed = !rule_current;
    }
    hello(connection, job).await
}

/// Streams the agent into a new temporary file of the SSH user's; returns its path.
async fn upload(connection: &Arc<Connection>, local: &Path) -> Result<String, InstallError> {
    let made = command::run(connection, "umask 077 && mktemp", None, QUICK).await?;
    let tmp = made.stdout.trim().to_owned();
    if !made.success() || !tmp.starts_with('/') {
        return Err(InstallError::ScriptFailed {
            status: made.exit.status,
            said: format!("mktemp: {}", made.exit.stderr.trim()),
        });
    }
    let mut file =
        tokio::fs::File::open(local)
            .await
            .map_err(|source| InstallError::ReadAgent {
                path: local.to_owned(),
                source,
            })?;
    let copied = command::run(
        connection,
        &format!("cat > {}", shell_quote(&tmp)),
        Some(&mut file),
        SLOW,
    )
    .await?;
    if !copied.success() {
        return Err(InstallError::ScriptFailed {
            status: copied.exit.status,
            said: format!("uploading to {tmp}: {}", copied.exit.stderr.trim()),
        });
    }
    Ok(tmp)
}

/// Exchanges Hellos with the installed agent through `sudo -n AGENT serve`, as a run will;
/// returns the agent's name and version.
async fn hello(connection: Arc<Connection>, job: &HostInstall) -> Result<String, InstallError> {
    let deadline = Deadline::after(job.target.connect_timeout);
    let channel = exec::spawn_command(
        &connection,
        &exec::agent_command(&job.agent_path),
        &deadline,
    )
    .await?;
    let session = session::start(channel, &job.context(), HELLO_TIMEOUT)
        .await
        .map_err(|source| InstallError::NoAnswer { source })?;
    Ok(session.peer_software().to_owned())
}

/// Whether `sudo -l` output lists exactly `(root) NOPASSWD: AGENT_PATH serve`.
fn lists_rule(listing: &str, agent_path: &str) -> bool {
    let wanted = format!("(root) NOPASSWD: {agent_path} serve");
    listing.lines().any(|line| line.trim() == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_sees_the_exact_rule_in_sudo_l() {
        let listing = "Matching Defaults entries for deploy on h1:\n    env_reset, secure_path=/usr/bin\n\n\
                       User deploy may run the following commands on h1:\n    (ALL : ALL) NOPASSWD: ALL\n    \
                       (root) NOPASSWD: /usr/local/bin/backup-orchestrator serve\n";
        assert!(lists_rule(listing, "/usr/local/bin/backup-orchestrator"));
        assert!(!lists_rule(listing, "/opt/backup-orchestrator"));
        let broader = "    (root) NOPASSWD: /usr/local/bin/backup-orchestrator\n";
        assert!(!lists_rule(broader, "/usr/local/bin/backup-orchestrator"));
    }
}
