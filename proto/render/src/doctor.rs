//! `backup-orchestrator-ctl doctor`'s checklist: a [`HostChecklist`] per host, as text
//! ([`doctor_text`]) or, for all hosts at once, JSON ([`doctor_json`]).
//!
//! ```text
//! h1:
//!   ✔ resolves: 10.231.7.11 port 22
//!   ✘ sudo rule: deploy has no rule `(root) NOPASSWD: /usr/local/bin/backup-orchestrator serve`
//!       fix: backup-orchestrator-ctl install h1
//!   – plan parses: not checked (needs the agent)
//! h1: 1 problem
//! ```
//!
//! # JSON
//!
//! One array, a host per element: `{"host":"h1","ok":false,"checks":[{"check":"sudo rule",
//! "status":"fail","detail":"…","fix":"…"}]}`; `status` is `pass`, `fail` or `skipped` (not
//! checked because an earlier check failed), `fix` is null unless the check failed.

use serde_json::json;

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Not checked: what it needs failed before it.
    Skipped,
}

impl CheckStatus {
    fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            CheckStatus::Pass => "✔",
            CheckStatus::Fail => "✘",
            CheckStatus::Skipped => "–",
        }
    }
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// `resolves`, `reachable`, `sudo rule`, `preflight /mnt/nas-backup`, …
    pub name: String,
    pub status: CheckStatus,
    /// What was seen.
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skipped(name: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: CheckStatus::Skipped,
            detail: why.into(),
            fix: None,
        }
    }
}

/// Every check of one host, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostChecklist {
    pub host: String,
    pub checks: Vec<Check>,
}

impl HostChecklist {
    /// No check failed (skipped ones follow a failed one, so they never stand alone).
    pub fn passed(&self) -> bool {
        self.failures() == 0
    }

    fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .count()
    }
}

/// The host's checklist, a line per check and an indented `fix:` under each failure, then a
/// verdict line.
pub fn doctor_text(list: &HostChecklist) -> String {
    let mut text = format!("{}:\n", list.host);
    for check in &list.checks {
        text.push_str(&format!(
            "  {} {}: {}\n",
            check.status.mark(),
            check.name,
            check.detail
        ));
        if let (CheckStatus::Fail, Some(fix)) = (check.status, &check.fix) {
            for (i, line) in fix.lines().enumerate() {
                let lead = if i == 0 { "fix: " } else { "     " };
                text.push_str(&format!("      {lead}{line}\n"));
            }
        }
    }
    match list.failures() {
        0 => text.push_str(&format!("{}: all checks passed\n", list.host)),
        1 => text.push_str(&format!("{}: 1 problem\n", list.host)),
        n => text.push_str(&format!("{}: {n} problems\n", list.host)),
    }
    text
}

/// Every host's checklist as one JSON array, and a newline.
pub fn doctor_json(lists: &[HostChecklist]) -> String {
    let hosts: Vec<_> = lists
        .iter()
        .map(|list| {
            let checks: Vec<_> = list
                .checks
                .iter()
                .map(|c| {
                    json!({
                        "check": c.name,
                        "status": c.status.as_str(),
                        "detail": c.detail,
                        "fix": if c.status == CheckStatus::Fail { c.fix.clone() } else { None },
                    })
                })
                .collect();
            json!({ "host": list.host, "ok": list.passed(), "checks": checks })
        })
        .collect();
    format!("{}\n", serde_json::Value::Array(hosts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> HostChecklist {
        HostChecklist {
            host: "h1".into(),
            checks: vec![
                Check::pass("resolves", "10.231.7.11 port 22"),
                Check::fail(
                    "sudo rule",
                    "no rule for the agent",
                    "backup-orchestrator-ctl install h1\nor add: deploy ALL=(root) NOPASSWD: /x serve",
                ),
                Check::skipped("plan parses", "not checked (needs the agent)"),
            ],
        }
    }

    #[test]
    fn doctor_text_marks_each_check_and_indents_the_fix() {
        assert_eq!(
            doctor_text(&list()),
            "h1:\n  ✔ resolves: 10.231.7.11 port 22\n  ✘ sudo rule: no rule for the agent\n      \
             fix: backup-orchestrator-ctl install h1\n           or add: deploy ALL=(root) NOPASSWD: /x serve\n  \
             – plan parses: not checked (needs the agent)\nh1: 1 problem\n"
        );
    }

    #[test]
    fn doctor_json_lists_checks_with_status_and_fix() {
        let value: serde_json::Value = serde_json::from_str(&doctor_json(&[list()])).unwrap();
        assert_eq!(value[0]["ok"], false);
        assert_eq!(value[0]["checks"][0]["status"], "pass");
        assert_eq!(value[0]["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(value[0]["checks"][1]["status"], "fail");
        assert_eq!(value[0]["checks"][2]["status"], "skipped");
    }
}
