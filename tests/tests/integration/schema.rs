//! An independent, strict copy of the `--json` summary schema (documented in
//! proto/src/summary.rs). Unknown or missing keys fail the test: the JSON is a contract with the
//! user's monitoring, so any change to it must show up here.

use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub total_services: u32,
    pub successful: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub skipped: u32,
    pub failure_rate_percent: u32,
    pub exit_code: i32,
    pub warnings: u32,
    pub run_id: String,
    pub host: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub dry_run: bool,
    pub cancelled: bool,
    pub critical_reason: Option<String>,
    pub units: Vec<UnitReport>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnitReport {
    pub unit: String,
    pub stage: String,
    pub outcome: String,
    pub result: Option<String>,
    pub exit_status: Option<i32>,
    pub duration_ms: Option<u64>,
    pub still_running: bool,
    /// A failed unit's last journal lines; absent when it has none.
    #[serde(default)]
    pub journal: Vec<String>,
}

impl Summary {
    /// Decodes `stdout`, which must hold exactly one JSON document and nothing else.
    pub fn parse(stdout: &[u8]) -> Summary {
        let text = String::from_utf8_lossy(stdout);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a summary ({e}):\n{text}"))
    }

    pub fn unit(&self, name: &str) -> &UnitReport {
        self.units
            .iter()
            .find(|u| u.unit == name)
            .unwrap_or_else(|| panic!("{name} not in the summary: {:#?}", self.units))
    }
}
