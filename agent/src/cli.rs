//! The command line: [`Cli`], parsed with clap's derive API.
//!
//! Same name and flags as the user's original script (`sudo backup-orchestrator --yes --json`), plus
//! the subcommands that come with runs owned by PID 1. Global flags are accepted before or after the
//! subcommand. A usage error exits 64 (`EX_USAGE`), never clap's 2, which would read as "critical".

use std::ffi::OsString;
use std::path::PathBuf;

use backup_orchestrator_proto::exit_codes;
use backup_orchestrator_proto::request::DEFAULT_LOG_LINES;
use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit codes:
  0    every unit succeeded (warnings and skipped units allowed)
  1    partial failure: some units failed or timed out, failure rate at or
       below the threshold
  2    critical: preflight failed, or failure rate above the threshold
  3    could not run: another run in progress (attach with:
       backup-orchestrator attach), systemd unreachable, no run to attach to
       or cancel, or the run was abandoned (its process died)
  64   usage or configuration error: bad flag, malformed plan, no terminal
       to confirm on (pass --yes)
  130  interrupted locally (Ctrl-C) or the prompt declined; a started run
       goes on (attach with: backup-orchestrator attach)

Verdict:
  failure_rate_percent = floor(100 x (failed + timed_out) / total_services)
  Above the plan's threshold (default 50%) the run is critical (exit 2);
  otherwise any failure is partial (exit 1). A unit still running at its
  stage's timeout counts as failed. Warnings (stages with
  on_failure = \"warn\", e.g. sanoid) and skipped units (already running
  from their timer) never fail a run.

Runs are owned by systemd (transient unit backup-orchestrator-run.service):
Ctrl-C, a closed terminal or a dropped SSH connection stop only the display,
never the backups.";

/// Runs the host's backup plan against systemd: snapshots, replication, database and application
/// backups, in stages, with timeouts and a failure threshold.
#[derive(Debug, Parser)]
#[command(
    name = "backup-orchestrator",
    version,
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command accepts, before or after the subcommand.
#[derive(Clone, Debug, Default, Args)]
pub struct GlobalArgs {
    /// Show what would run; start nothing (no lock taken, nothing written on the host but the
    /// plan's monitoring textfile).
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Detailed progress output.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(short = 'y', long = "yes", visible_alias = "no-confirm", global = true)]
    pub yes: bool,
    /// JSON summary on stdout, for monitoring.
    #[arg(long, global = true)]
    pub json: bool,
    /// Minimal output: the exit code (and the JSON summary with --json).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The plan file (must exist). Default: /etc/backup-orchestrator/plan.toml if it exists, else the
    /// built-in plan.
    #[arg(long, value_name = "FILE", global = true)]
    pub plan: Option<PathBuf>,
    /// Stop a unit that passes its stage's timeout (default: leave the backup running).
    #[arg(long, global = true)]
    pub stop_units_on_timeout: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay the current run (or the last, or RUN_ID) from its start and follow it live; exits with
    /// that run's exit code.
    Attach {
        /// A run id as printed by `status`, e.g. 20251103T120000Z-ab12.
        run_id: Option<String>,
    },
    /// Show the running or the last run.
    Status,
    /// Start no more units in the running run (exit 3 when nothing is running).
    Cancel {
        /// Also stop the units running now.
        #[arg(long)]
        stop_units: bool,
    },
    /// Validate a plan (FILE, else --plan, else the default path) and list its stages with the
    /// units each pattern matches on this host; exit 0, or 64 with file:line:column.
    CheckPlan {
        /// The plan file to check.
        file: Option<PathBuf>,
        /// Syntax only: do not ask systemd, do not check the file's owner (for a build sandbox).
        #[arg(long)]
        no_host: bool,
    },
    /// The journal of a unit's last invocation (only for units the plan names).
    Logs {
        /// A unit of the plan, e.g. syncoid-tank-services.service.
        unit: String,
        /// How many of its last lines (at most 1000).
        #[arg(short = 'n', long, default_value_t = DEFAULT_LOG_LINES)]
        lines: u32,
    },
    /// The controller's session on stdin/stdout (used by backup-orchestrator-ctl over SSH).
    Serve,
    /// Drive the display with canned events (for testing the renderer).
    #[command(hide = true)]
    DebugRender,
    /// Execute a run inside its transient unit (started by the agent itself).
    #[command(hide = true)]
    RunOwned {
        #[arg(long, value_name = "ID")]
        run_id: String,
    },
}

/// What parsing decided: run a command, or exit now (help, version, usage error) with a code after
/// clap printed its text.
#[derive(Debug)]
pub enum Parsed {
    Run(Cli),
    Exit(i32),
}

/// Parses `args` (program name first); prints help, version or the usage error itself.
pub fn parse<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => Parsed::Run(cli),
        Err(e) => {
            let code = usage_exit_code(&e);
            // Printing can only fail on a closed stream, where there is nobody left to tell.
            let _ = e.print();
            Parsed::Exit(code)
        }
    }
}

/// 0 for `--help`/`--version`, 64 for every usage error.
pub fn usage_exit_code(e: &clap::Error) -> i32 {
    if e.use_stderr() {
        exit_codes::USAGE
    } else {
        exit_codes::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    use super::*;

    fn parsed(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("backup-orchestrator").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn usage_error(args: &[&str]) -> i32 {
        let e =
            Cli::try_parse_from(std::iter::once("backup-orchestrator").chain(args.iter().copied()))
                .unwrap_err();
        usage_exit_code(&e)
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn cli_takes_the_scripts_flags_with_no_subcommand() {
        let cli = parsed(&["--dry-run", "-v", "--no-confirm", "--json", "-q"]);
        assert!(cli.command.is_none());
        let g = cli.global;
        assert!(g.dry_run && g.verbose && g.yes && g.json && g.quiet);
        assert!(parsed(&["-y"]).global.yes);
        assert!(parsed(&["--yes"]).global.yes);
    }

    #[test]
    fn cli_accepts_global_flags_before_or_after_the_subcommand() {
        for args in [
            &[
                "--json",
                "--plan",
                "/p.toml",
                "attach",
                "20251103T120000Z-ab12",
            ][..],
            &[
                "attach",
                "20251103T120000Z-ab12",
                "--json",
                "--plan",
                "/p.toml",
            ][..],
            &[
                "attach",
                "--json",
                "20251103T120000Z-ab12",
                "--plan=/p.toml",
            ][..],
        ] {
            let cli = parsed(args);
            assert!(cli.global.json, "{args:?}");
            assert_eq!(cli.global.plan, Some(PathBuf::from("/p.toml")), "{args:?}");
            assert!(
                matches!(&cli.command, Some(Command::Attach { run_id: Some(id) }) if id == "20251103T120000Z-ab12"),
                "{args:?}"
            );
        }
        let cli = parsed(&["cancel", "--stop-units", "-q"]);
        assert!(cli.global.quiet);
        assert!(matches!(
            cli.command,
            Some(Command::Cancel { stop_units: true })
        ));
        let cli = parsed(&["logs", "sanoid.service", "-n", "5", "--json"]);
        assert!(cli.global.json);
        assert!(
            matches!(&cli.command, Some(Command::Logs { unit, lines: 5 }) if unit == "sanoid.service")
        );
        let cli = parsed(&["-v", "serve", "--plan", "/p.toml"]);
        assert!(cli.global.verbose && matches!(cli.command, Some(Command::Serve)));
    }

    #[test]
    fn cli_parses_the_hidden_run_owned_command() {
        let cli = parsed(&[
            "run-owned",
            "--run-id",
            "20251103T120000Z-ab12",
            "--plan",
            "/p.toml",
            "--stop-units-on-timeout",
        ]);
        assert!(cli.global.stop_units_on_timeout);
        assert!(
            matches!(cli.command, Some(Command::RunOwned { run_id }) if run_id == "20251103T120000Z-ab12")
        );
    }

    #[test]
    fn cli_parses_check_plan_with_a_file_and_no_host() {
        let cli = parsed(&["check-plan", "/p.toml", "--no-host"]);
        assert!(matches!(
            cli.command,
            Some(Command::CheckPlan { file: Some(f), no_host: true }) if f == Path::new("/p.toml")
        ));
        let cli = parsed(&["check-plan"]);
        assert!(matches!(
            cli.command,
            Some(Command::CheckPlan {
                file: None,
                no_host: false
            })
        ));
    }

    #[test]
    fn cli_usage_errors_exit_64_and_help_exits_0() {
        assert_eq!(usage_error(&["--frobnicate"]), 64);
        assert_eq!(usage_error(&["attach", "a", "b"]), 64);
        assert_eq!(usage_error(&["cancel", "--force"]), 64);
        assert_eq!(usage_error(&["--plan"]), 64);
        assert_eq!(usage_error(&["nonsense"]), 64);
        assert_eq!(usage_error(&["--help"]), 0);
        assert_eq!(usage_error(&["--version"]), 0);
    }

    #[test]
    fn cli_help_documents_exit_codes_and_the_verdict() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "64",
            "130",
            "floor(100 x (failed + timed_out) / total_services)",
            "default 50%",
            "backup-orchestrator attach",
        ] {
            assert!(help.contains(needle), "{needle} missing from:\n{help}");
        }
        assert!(!help.contains("run-owned"));
        assert!(!help.contains("debug-render"));
    }
}
