//! TOML text to a validated [`Plan`]: serde reads the shape (unknown keys refused), then each
//! value is checked with its span kept ([`toml::Spanned`]) so every error says file:line:column.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::model::{DiskCheck, Hook, HookWhen, Monitoring, Plan, Stage};
use super::pattern;

/// Why a plan could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("read plan file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Running as root, a plan file someone else could write (see `trust.rs`).
    #[error(
        "refuse plan file {}: {reason} (owner uid {uid}, mode {mode:04o}); as root the agent \
         reads only a plan that root owns and group and others cannot write, in directories \
         the same (e.g. chown root:root FILE && chmod 0644 FILE)",
        path.display()
    )]
    Untrusted {
        path: PathBuf,
        reason: &'static str,
        uid: u32,
        mode: u32,
    },
    /// Malformed or invalid: `/etc/backup-orchestrator/plan.toml:7:1: unknown field …`.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },
}

const DEFAULT_THRESHOLD_PERCENT: u32 = 50;
const DEFAULT_PARALLEL: u32 = 1;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    failure_threshold_percent: Option<Spanned<i64>>,
    preflight: Option<RawPreflight>,
    #[serde(default)]
    stage: Vec<Spanned<RawStage>>,
    monitoring: Option<RawMonitoring>,
    #[serde(default)]
    hook: Vec<Spanned<RawHook>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitoring {
    textfile: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    when: Spanned<OneOrMany>,
    command: Spanned<Vec<String>>,
    timeout: Option<Spanned<String>>,
}

/// `when = "finish"` or `when = ["start", "failure"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreflight {
    #[serde(default)]
    disk: Vec<RawDisk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisk {
    path: Spanned<String>,
    min_free: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: Spanned<String>,
    units: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    parallel: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    on_failure: Option<Spanned<OnFailure>>,
}

#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum OnFailure {
    Fail,
    Warn,
}

/// A message about the text at a byte span.
struct SpanError {
    span: Range<usize>,
    message: String,
}

fn at(span: Range<usize>, message: impl Into<String>) -> SpanError {
    SpanError {
        span,
        message: message.into(),
    }
}

pub(super) fn parse(text: &str, source: &str) -> Result<Plan, PlanError> {
    let raw: RawPlan = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        invalid(text, source, at(span, e.message().trim_end()))
    })?;
    validate(raw, text, source).map_err(|e| invalid(text, source, e))
}

fn invalid(text: &str, file: &str, error: SpanError) -> PlanError {
    let (line, column) = position(text, error.span.start);
    PlanError::Invalid {
        file: file.to_owned(),
        line,
        column,
        message: error.message,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn validate(raw: RawPlan, text: &str, source: &str) -> Result<Plan, SpanError> {
    let failure_threshold_percent = match raw.failure_threshold_percent {
        None => DEFAULT_THRESHOLD_PERCENT,
        Some(t) => match u32::try_from(*t.get_ref()) {
            Ok(percent) if percent <= 100 => percent,
            _ => {
                return Err(at(
                    t.span(),
                    format!(
                        "failure_threshold_percent must be between 0 and 100, got {}",
                        t.get_ref()
                    ),
                ));
            }
        },
    };

    let preflight = raw
        .preflight
        .map(|p| p.disk)
        .unwrap_or_default()
        .into_iter()
        .map(disk_check)
        .collect::<Result<Vec<_>, _>>()?;

    if raw.stage.is_empty() {
        return Err(at(
            0..0,
            "the plan has no stages: add at least one [[stage]] with a name and units",
        ));
    }
    let mut first_span_of: HashMap<String, Range<usize>> = HashMap::new();
    let mut stages = Vec::with_capacity(raw.stage.len());
    for raw_stage in raw.stage {
        let raw_stage = raw_stage.into_inner();
        let name_span = raw_stage.name.span();
        let stage = stage(raw_stage)?;
        if let Some(first) = first_span_of.get(&stage.name) {
            let (line, _) = position(text, first.start);
            return Err(at(
                name_span,
                format!(
                    "duplicate stage name `{}` (first used on line {line})",
                    stage.name
                ),
            ));
        }
        first_span_of.insert(stage.name.clone(), name_span);
        stages.push(stage);
    }

    let textfile = match raw.monitoring.and_then(|m| m.textfile) {
        None => None,
        Some(path) if path.get_ref().starts_with('/') => Some(PathBuf::from(path.get_ref())),
        Some(path) => {
            return Err(at(
                path.span(),
                format!(
                    "the monitoring textfile must be an absolute path, got {:?}",
                    path.get_ref()
                ),
            ));
        }
    };
    let hooks = raw
        .hook
        .into_iter()
        .map(|h| hook(h.into_inner()))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Plan {
        source: source.to_owned(),
        failure_threshold_percent,
        preflight,
        stages,
        monitoring: Monitoring { textfile, hooks },
    })
}

fn hook(raw: RawHook) -> Result<Hook, SpanError> {
    let names = match raw.when.get_ref() {
        OneOrMany::One(name) => vec![name.as_str()],
        OneOrMany::Many(names) => names.iter().map(String::as_str).collect(),
    };
    if names.is_empty() {
        return Err(at(
            raw.when.span(),
            "a hook's `when` must name at least one moment",
        ));
    }
    let when = names
        .into_iter()
        .map(|name| match name {
            "start" => Ok(HookWhen::Start),
            "success" => Ok(HookWhen::Success),
            "partial" => Ok(HookWhen::Partial),
            "failure" => Ok(HookWhen::Failure),
            "finish" => Ok(HookWhen::Finish),
            other => Err(at(
                raw.when.span(),
                format!(
                    "unknown hook moment {other:?}: expected \"start\", \"success\", \
                     \"partial\", \"failure\" or \"finish\""
                ),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    match raw.command.get_ref().first() {
        Some(program) if program.starts_with('/') => {}
        Some(program) => {
            return Err(at(
                raw.command.span(),
                format!(
                    "a hook's program must be an absolute path (no shell, no PATH lookup), got \
                     {program:?}"
                ),
            ));
        }
        None => {
            return Err(at(
                raw.command.span(),
                "a hook's command must name a program: command = [\"/path/to/program\", \"arg\"]",
            ));
        }
    }
    let timeout = match raw.timeout {
        None => DEFAULT_HOOK_TIMEOUT,
        Some(t) => duration(t.get_ref()).map_err(|m| at(t.span(), m))?,
    };
    Ok(Hook {
        when,
        command: raw.command.into_inner(),
        timeout,
    })
}

fn disk_check(raw: RawDisk) -> Result<DiskCheck, SpanError> {
    let path = raw.path.get_ref();
    if !path.starts_with('/') {
        return Err(at(
            raw.path.span(),
            format!("a preflight disk path must be absolute, got {path:?}"),
        ));
    }
    let min_free_bytes = size(raw.min_free.get_ref()).map_err(|m| at(raw.min_free.span(), m))?;
    Ok(DiskCheck {
        path: PathBuf::from(path),
        min_free_bytes,
    })
}

fn stage(raw: RawStage) -> Result<Stage, SpanError> {
    let name = raw.name.get_ref().trim();
    if name.is_empty() {
        return Err(at(raw.name.span(), "a stage name must not be empty"));
    }
    if raw.units.get_ref().is_empty() {
        return Err(at(
            raw.units.span(),
            format!("stage `{name}` has no units: list at least one unit name or pattern"),
        ));
    }
    let patterns = |list: Vec<Spanned<String>>, services_only: bool| {
        list.into_iter()
            .map(|p| {
                pattern::validate(p.get_ref()).map_err(|m| at(p.span(), m))?;
                if services_only {
                    pattern::require_service(p.get_ref()).map_err(|m| at(p.span(), m))?;
                }
                Ok(p.into_inner())
            })
            .collect::<Result<Vec<_>, SpanError>>()
    };
    let units = patterns(raw.units.into_inner(), true)?;
    let exclude = patterns(raw.exclude, false)?;
    let parallel = match raw.parallel {
        None => DEFAULT_PARALLEL,
        Some(p) => u32::try_from(*p.get_ref()).map_err(|_| {
            at(
                p.span(),
                format!(
                    "parallel must be 0 (no limit) or a positive number of units, got {}",
                    p.get_ref()
                ),
            )
        })?,
    };
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(t) => duration(t.get_ref()).map_err(|m| at(t.span(), m))?,
    };
    let warn_only = raw
        .on_failure
        .is_some_and(|f| *f.get_ref() == OnFailure::Warn);
    Ok(Stage {
        name: name.to_owned(),
        units,
        exclude,
        parallel,
        timeout,
        warn_only,
    })
}

/// `50G`, `512M`, `1T`, `1024` (bytes), or a TOML integer of bytes; K/M/G/T are powers of 1024.
fn size(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| format!("min_free must not be negative, got {n}"))
        }
        toml::Value::String(s) => size_text(s),
        other => Err(format!(
            "min_free must be a size such as \"50G\" or a number of bytes, got a {}",
            other.type_str()
        )),
    }
}

fn size_text(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid size {text:?}: expected a number of bytes with an optional K, M, G or T \
             suffix (powers of 1024), such as \"50G\""
        )
    };
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// `90s`, `5m`, `1h`, `1h 30m` (humantime's syntax); more than zero.
fn duration(text: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}): expected e.g. \"90s\", \"5m\" or \"1h\"")
    })?;
    if parsed.is_zero() {
        return Err(format!("a timeout must be more than zero, got {text:?}"));
    }
    Ok(parsed)
}
