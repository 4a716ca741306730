//! What the command line chose for output and plan: [`renderer`] (from `--json`, `--quiet`,
//! `--verbose` and the terminal) and [`load_plan`] (from `--plan`).

use std::io::{self, IsTerminal};

use backup_orchestrator_render::{OutputMode, RenderOptions, Renderer};

use crate::cli::GlobalArgs;
use crate::plan::{Plan, PlanError};

/// A renderer for this command line's output flags.
pub fn renderer(global: &GlobalArgs) -> Renderer {
    let terminal = io::stderr().is_terminal() && io::stdout().is_terminal();
    let mode = OutputMode::choose(global.json, global.quiet, terminal);
    Renderer::new(RenderOptions {
        mode,
        verbose: global.verbose,
        host_label: None,
    })
}

/// The plan a command uses (see [`Plan::load_chosen`]). Always checked before anything is started.
pub fn load_plan(global: &GlobalArgs) -> Result<Plan, PlanError> {
    Plan::load_chosen(global.plan.as_deref())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::commands::error::CliError;

    #[test]
    fn a_malformed_plan_is_a_usage_error_naming_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(
            &path,
            "failure_threshold_percent = 50\n[[stage]]\nnme = \"x\"\n",
        )
        .unwrap();
        let global = GlobalArgs {
            plan: Some(path.clone()),
            ..GlobalArgs::default()
        };
        let err = CliError::from(load_plan(&global).unwrap_err());
        assert_eq!(err.exit_code(), 64);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}:3:1: ", path.display())),
            "{message}"
        );
    }

    #[test]
    fn an_explicit_plan_must_exist() {
        let global = GlobalArgs {
            plan: Some(PathBuf::from("/nonexistent/plan.toml")),
            ..GlobalArgs::default()
        };
        let err = CliError::from(load_plan(&global).unwrap_err());
        assert_eq!(err.exit_code(), 64);
        assert!(err.to_string().contains("/nonexistent/plan.toml"), "{err}");
    }

    #[test]
    fn the_builtin_plan_is_passed_to_run_owned_as_no_file() {
        assert_eq!(Plan::builtin_default().file(), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        std::fs::write(&path, "[[stage]]\nname = \"a\"\nunits = [\"a.service\"]\n").unwrap();
        let plan = Plan::load(&path).unwrap();
        assert_eq!(plan.file(), Some(path.as_path()));
    }
}
