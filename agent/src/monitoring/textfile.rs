//! The Prometheus textfile ([`write_textfile`]): the last run's metrics for node_exporter's textfile
//! collector, in the text exposition format, replaced atomically at the end of every run.
//!
//! Two metrics outlive a run: the time of the last successful run, and each unit's last success
//! (so a unit failing for a week shows a week-old timestamp). They are kept in the agent's state
//! directory ([`Carried`], `monitoring.json`, see `Layout::monitoring_path`), not read back from
//! the textfile, so deleting or moving the textfile loses nothing, and it is only ever written.
//!
//! Timestamps are the start of the run they come from (the `started_at` of its summary), in
//! seconds since the Unix epoch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use backup_orchestrator_proto::{Outcome, Summary};
use serde::{Deserialize, Serialize};

/// Why the textfile (or what it carries over) could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TextfileError {
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TextfileError {
    let path = path.to_owned();
    move |source| TextfileError::Io {
        action,
        path,
        source,
    }
}

/// What the metrics carry from run to run, in milliseconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// Start of the last run that exited 0 (dry runs excluded).
    #[serde(default)]
    pub last_success_ms: Option<u64>,
    /// Unit → start of the last run in which it succeeded.
    #[serde(default)]
    pub units: BTreeMap<String, u64>,
}

impl Carried {
    /// What is kept, or nothing yet (a missing or unreadable file starts afresh: these are
    /// metrics, not the runs' record).
    pub fn load(path: &Path) -> Carried {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring {}: {e}", path.display());
                Carried::default()
            }),
            Err(_) => Carried::default(),
        }
    }

    /// Adds what `summary` (its run started at `started_ms`) succeeded at.
    pub fn update(&mut self, summary: &Summary, started_ms: u64) {
        if summary.dry_run {
            return;
        }
        if summary.exit_code == 0 {
            self.last_success_ms = Some(started_ms);
        }
        for unit in summary
            .units
            .iter()
            .filter(|u| u.outcome == Outcome::Success)
        {
            self.units.insert(unit.unit.clone(), started_ms);
        }
    }
}

/// Writes the metrics of `summary` to `textfile`, carrying over (and updating) what `carried_path`
/// keeps. Both files are replaced atomically.
pub fn write_textfile(
    textfile: &Path,
    carried_path: &Path,
    summary: &Summary,
) -> Result<(), TextfileError> {
    let started_ms = started_ms(summary);
    let mut carried = Carried::load(carried_path);
    carried.update(summary, started_ms);
    // The textfile first: what is carried failing to save must not keep this run's metrics out.
    let written = replace(
        textfile,
        render(summary, started_ms, &carried).as_bytes(),
        0o644,
    );
    let mut json = serde_json::to_vec_pretty(&carried).unwrap_or_default();
    json.push(b'\n');
    // The state directory exists once a run has started; a dry run may come first.
    let kept = match carried_path.parent() {
        Some(dir) => fs::create_dir_all(dir).map_err(io_error("create", dir)),
        None => Ok(()),
    }
    .and_then(|()| replace(carried_path, &json, 0o600));
    written.and(kept)
}

/// The run's start from its summary, in ms since the epoch (0 if unreadable, which never happens
/// for a summary the engine wrote).
fn started_ms(summary: &Summary) -> u64 {
    humantime::parse_rfc3339_weak(&summary.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The textfile's text for `summary`.
pub fn render(summary: &Summary, started_ms: u64, carried: &Carried) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: &[(String, String)]| {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP backup_orchestrator_{name} {help}");
        let _ = writeln!(out, "# TYPE backup_orchestrator_{name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "backup_orchestrator_{name}{labels} {value}");
        }
    };
    family(
        "last_run_timestamp_seconds",
        "Unix time the last run started.",
        &[(String::new(), seconds(started_ms))],
    );
    family(
        "last_run_duration_seconds",
        "How long the last run took.",
        &[(String::new(), seconds(summary.duration_ms))],
    );
    family(
        "last_exit_code",
        "Exit code of the last run: 0 success, 1 partial failure, 2 critical.",
        &[(String::new(), summary.exit_code.to_string())],
    );
    family(
        "last_run_dry_run",
        "1 if the last run was a dry run (nothing started).",
        &[(String::new(), u8::from(summary.dry_run).to_string())],
    );
    family(
        "last_success_timestamp_seconds",
        "Unix time the last run that exited 0 started.",
        &carried
            .last_success_ms
            .map(|ms| (String::new(), seconds(ms)))
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let outcomes = [
        Outcome::Success,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Skipped,
        Outcome::Warning,
        Outcome::Planned,
    ];
    family(
        "units",
        "Units of the last run by outcome.",
        &outcomes
            .map(|outcome| {
                let count = summary
                    .units
                    .iter()
                    .filter(|u| u.outcome == outcome)
                    .count();
                (labels(&[("outcome", outcome.as_str())]), count.to_string())
            })
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let ran = summary.units.iter().filter(|u| {
        matches!(
            u.outcome,
            Outcome::Success | Outcome::Failed | Outcome::TimedOut | Outcome::Warning
        )
    });
    family(
        "unit_success",
        "1 if the unit succeeded in the last run, 0 if it failed or timed out.",
        &ran.clone()
            .map(|u| {
                let value = u8::from(u.outcome == Outcome::Success);
                (
                    labels(&[("unit", &u.unit), ("stage", &u.stage)]),
                    value.to_string(),
                )
            })
            .collect::<Vec<_>>(),
    );
    family(
        "unit_duration_seconds",
        "How long the unit ran in the last run (to its stage's timeout, if it timed out).",
        &ran.filter_map(|u| {
            let ms = u.duration_ms?;
            Some((
                labels(&[("unit", &u.unit), ("stage", &u.stage)]),
                seconds(ms),
            ))
        })
        .collect::<Vec<_>>(),
    );
    family(
        "unit_last_success_timestamp_seconds",
        "Unix time the last run in which the unit succeeded started.",
        &carried
            .units
            .iter()
            .map(|(unit, ms)| (labels(&[("unit", unit)]), seconds(*ms)))
            .collect::<Vec<_>>(),
    );
    out
}

/// `1795675389.123`.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `{unit="a.service",stage="replication"}`, values escaped as the exposition format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Replaces `path` with `bytes` at once: a temporary file in the same directory (same file
/// system), its mode set whatever the umask, flushed to disk, then renamed over `path`. A reader
/// (node_exporter) sees the old file or the new one, never half of one.
fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TextfileError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error("write", &tmp)(e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error("replace", path)(e)
    })
}

#[cfg(test)]
mod tests;
