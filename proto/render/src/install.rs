//! `backup-orchestrator-ctl install`'s words: one [`InstallReport`] per host, as a line
//! ([`install_line`]) or, for all hosts at once, JSON ([`install_json`]).
//!
//! # JSON
//!
//! `install --json` prints one array, a host per element, in the order the hosts were given:
//!
//! ```json
//! [{"host":"h1","result":"installed","agent_path":"/usr/local/bin/backup-orchestrator",
//!   "version":"backup-orchestrator 0.1.0","sha256":"9f2c…","agent_changed":true,
//!   "rule_changed":true,"duration_ms":1840,"error":null}]
//! ```
//!
//! `result` is `installed`, `already_installed` (nothing was touched) or `failed` (then `error`
//! says why and `version` is null).

use serde_json::json;

/// How one host's install ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallResult {
    Installed,
    AlreadyInstalled,
    Failed,
}

impl InstallResult {
    fn as_str(self) -> &'static str {
        match self {
            InstallResult::Installed => "installed",
            InstallResult::AlreadyInstalled => "already_installed",
            InstallResult::Failed => "failed",
        }
    }
}

/// One host's install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallReport {
    pub host: String,
    pub result: InstallResult,
    pub agent_path: String,
    /// What the installed agent calls itself in its Hello (`backup-orchestrator 0.1.0`).
    pub version: Option<String>,
    /// Of the agent binary that was (or would have been) installed; lowercase hex.
    pub sha256: String,
    /// The agent binary was replaced.
    pub agent_changed: bool,
    /// The sudoers drop-in was written.
    pub rule_changed: bool,
    pub duration_ms: u64,
    /// Why it failed, with its causes.
    pub error: Option<String>,
}

/// `h1: installed backup-orchestrator 0.1.0 at /usr/local/bin/backup-orchestrator and its sudo
/// rule (1.8s)`, or `h1: already installed: …; nothing changed`. Empty for a failed host (its
/// error is said on stderr).
pub fn install_line(report: &InstallReport) -> String {
    let version = report.version.as_deref().unwrap_or("the agent");
    let short = &report.sha256[..report.sha256.len().min(12)];
    let what = match (report.agent_changed, report.rule_changed) {
        (true, true) => "and its sudo rule",
        (true, false) => "(its sudo rule was already in place)",
        (false, true) => "(the agent was already there; its sudo rule is new)",
        (false, false) => "",
    };
    let secs = format!("{:.1}s", report.duration_ms as f64 / 1000.0);
    match report.result {
        InstallResult::Installed => format!(
            "{}: installed {version} at {} {what}, sha256 {short}… ({secs})\n",
            report.host, report.agent_path
        ),
        InstallResult::AlreadyInstalled => format!(
            "{}: already installed: {version} at {}, sha256 {short}…, sudo rule in place; nothing changed ({secs})\n",
            report.host, report.agent_path
        ),
        InstallResult::Failed => String::new(),
    }
}

/// Every host's report as one JSON array, and a newline.
pub fn install_json(reports: &[InstallReport]) -> String {
    let list: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({
                "host": r.host,
                "result": r.result.as_str(),
                "agent_path": r.agent_path,
                "version": r.version,
                "sha256": r.sha256,
                "agent_changed": r.agent_changed,
                "rule_changed": r.rule_changed,
                "duration_ms": r.duration_ms,
                "error": r.error,
            })
        })
        .collect();
    format!("{}\n", serde_json::Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(result: InstallResult, agent_changed: bool, rule_changed: bool) -> InstallReport {
        InstallReport {
            host: "h1".into(),
            result,
            agent_path: "/usr/local/bin/backup-orchestrator".into(),
            version: Some("backup-orchestrator 0.1.0".into()),
            sha256: "0123456789abcdef0123".into(),
            agent_changed,
            rule_changed,
            duration_ms: 1840,
            error: None,
        }
    }

    #[test]
    fn install_line_says_what_changed() {
        assert_eq!(
            install_line(&report(InstallResult::Installed, true, true)),
            "h1: installed backup-orchestrator 0.1.0 at /usr/local/bin/backup-orchestrator and its sudo rule, sha256 0123456789ab… (1.8s)\n"
        );
        assert_eq!(
            install_line(&report(InstallResult::AlreadyInstalled, false, false)),
            "h1: already installed: backup-orchestrator 0.1.0 at /usr/local/bin/backup-orchestrator, sha256 0123456789ab…, sudo rule in place; nothing changed (1.8s)\n"
        );
    }

    #[test]
    fn install_json_is_one_array_with_a_result_per_host() {
        let mut failed = report(InstallResult::Failed, false, false);
        failed.version = None;
        failed.error = Some("h1: sudo wants a password".into());
        let text = install_json(&[report(InstallResult::Installed, true, false), failed]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[0]["result"], "installed");
        assert_eq!(value[0]["agent_changed"], true);
        assert_eq!(value[1]["result"], "failed");
        assert_eq!(value[1]["version"], serde_json::Value::Null);
        assert_eq!(value[1]["error"], "h1: sudo wants a password");
    }
}
