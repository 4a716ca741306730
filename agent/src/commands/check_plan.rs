//! `check-plan [FILE] [--no-host]`: parse and validate a plan, then list its stages with the units
//! each pattern matches on this host, warning on a stage that matches nothing. Exit 0 (warnings
//! included), 64 for a plan that cannot be used (file:line:column), 3 when systemd cannot be asked.
//!
//! `--no-host` checks the syntax only: no systemd, no ownership rule (it runs as a normal user in
//! the Nix build sandbox, where the NixOS module checks the plan it renders).

use std::io::Write;
use std::path::{Path, PathBuf};

use backup_orchestrator_proto::exit_codes;

use super::error::CliError;
use crate::cli::GlobalArgs;
use crate::plan::{DEFAULT_PLAN_PATH, Plan, Stage, pattern, running_as_root};
use crate::runs::execute::connect_engine;
use crate::systemd::{Systemd, SystemdBus};

pub async fn check_plan(
    global: &GlobalArgs,
    file: Option<&Path>,
    no_host: bool,
) -> Result<i32, CliError> {
    let chosen: Option<PathBuf> = file.or(global.plan.as_deref()).map(Path::to_owned);
    let enforce = running_as_root() && !no_host;
    let plan = match &chosen {
        Some(path) => Plan::read(path, enforce)?,
        None => match Plan::read(Path::new(DEFAULT_PLAN_PATH), enforce) {
            Err(crate::plan::PlanError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Plan::builtin_default()
            }
            other => other?,
        },
    };
    let mut text = format!(
        "plan {}: valid; {} stage(s), failure threshold {}%\n",
        plan.source,
        plan.stages.len(),
        plan.failure_threshold_percent
    );
    let systemd = if no_host {
        None
    } else {
        Some(
            connect_engine()
                .await
                .map_err(|e| CliError::could_not_run(&e))?,
        )
    };
    let mut empty_stages = Vec::new();
    for (index, stage) in plan.stages.iter().enumerate() {
        text.push_str(&stage_heading(index, stage));
        let Some(systemd) = &systemd else {
            for unit in &stage.units {
                text.push_str(&format!("  {unit}\n"));
            }
            continue;
        };
        let mut matched_any = false;
        for unit in &stage.units {
            let matched = matches_on_host(systemd, unit, &stage.exclude).await?;
            matched_any |= !matched.is_empty();
            let list = if matched.is_empty() {
                "(no unit on this host)".to_owned()
            } else {
                matched.join(", ")
            };
            text.push_str(&format!("  {unit}: {list}\n"));
        }
        if !matched_any {
            empty_stages.push(stage.name.clone());
        }
    }
    if systemd.is_none() {
        text.push_str("syntax checked only (--no-host): units not looked up\n");
    }
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(CliError::output)?;
    for name in empty_stages {
        tracing::warn!("stage {name} matches no unit on this host");
    }
    Ok(exit_codes::SUCCESS)
}

/// `stage 2 replication: parallel 0 (no limit), timeout 30m, exclude *info*`.
fn stage_heading(index: usize, stage: &Stage) -> String {
    let parallel = match stage.parallel {
        0 => "no limit".to_owned(),
        n => n.to_string(),
    };
    let mut heading = format!(
        "stage {} {}: parallel {parallel}, timeout {}",
        index + 1,
        stage.name,
        humantime::format_duration(stage.timeout)
    );
    if stage.warn_only {
        heading.push_str(", on_failure warn");
    }
    if !stage.exclude.is_empty() {
        heading.push_str(&format!(", exclude {}", stage.exclude.join(" ")));
    }
    heading.push('\n');
    heading
}

/// The host's units `unit` (a name or a glob) matches, `exclude` applied. A literal name is looked
/// up as an exact glob, so one the host lacks shows as no match (a run would still try it).
async fn matches_on_host(
    systemd: &SystemdBus,
    unit: &str,
    exclude: &[String],
) -> Result<Vec<String>, CliError> {
    let glob = if pattern::is_glob(unit) {
        unit.to_owned()
    } else {
        pattern::exact_glob(unit)
    };
    systemd
        .discover(&[glob], exclude)
        .await
        .map_err(|e| CliError::could_not_run(&e))
}
