//! The command line: [`Cli`], parsed with clap's derive API.
//!
//! Two things differ from clap's defaults, both because a deploy pipeline gates on the exit code
//! (`backup-orchestrator-ctl forge && nixos-rebuild switch …`):
//! - a usage error exits 64 (`EX_USAGE`), never clap's 2, which here means "critical" ([`usage_exit_code`]);
//! - every option is global, so `ctl --json attach forge` and `ctl attach forge --json` mean the same.
//!
//! The help text, the man page (`man`) and the shell completions (`completions SHELL`) are all
//! generated from this one definition.

use crate::transport_kind::Transport;
use std::path::PathBuf;
use std::time::Duration;

use backup_orchestrator_proto::exit_codes;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueHint};

/// Shown after `--help` (and in the man page): what a pipeline can rely on.
const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    every unit succeeded
  1    partial failure: some units failed or timed out, at or below the plan's threshold
  2    critical: preflight failed, or the failure rate is above the plan's threshold
  3    could not run on the host: connection, host key, authentication, sudo, agent missing or
       incompatible, or another run already in progress
  64   usage or configuration error (including: no terminal to confirm on and no --yes)
  130  interrupted here (Ctrl-C); the run goes on on the host, `attach HOST` follows it again

Verdict:
  failure_rate_percent = floor(100 × (failed + timed_out) / total_services)
  Above the plan's failure threshold (default 50%) the run is critical (2); at or below it, any
  failure or timeout is a partial failure (1). Skipped units and warnings never fail a run.

Examples:
  backup-orchestrator-ctl forge && nixos-rebuild switch --target-host forge
  backup-orchestrator-ctl --dry-run forge
  backup-orchestrator-ctl --yes --json forge > summary.json
  backup-orchestrator-ctl --yes --parallel 3 @homelab vault   (groups: ~/.config/backup-orchestrator/hosts.toml)
  backup-orchestrator-ctl attach forge
  backup-orchestrator-ctl cancel forge --stop-units";

const ABOUT: &str = "Runs the backup plan of a host over SSH and shows its progress";

const LONG_ABOUT: &str = "\
Runs the backup plan of a host over SSH and shows its progress.

Connects with SSH (reading ~/.ssh/config and /etc/ssh/ssh_config as OpenSSH does, and refusing
what the native transport cannot honour, such as Match blocks and ProxyCommand), runs
`sudo -n backup-orchestrator serve` on the host, asks it to start the host's plan and follows the
run until its summary. The run belongs to the host: a lost connection or Ctrl-C leaves the backups
running, and `attach` follows them again.";

/// `backup-orchestrator-ctl [OPTIONS] HOST`, or one of the subcommands.
#[derive(Debug, Parser)]
#[command(
    name = "backup-orchestrator-ctl",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = EXIT_CODES_HELP,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// The hosts whose backup plans to run: an ssh_config alias, a host name or an address
    /// (optionally as USER@HOST), or `@GROUP` of the inventory. A host named twice runs once.
    #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
    pub targets: Vec<String>,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub options: GlobalOptions,
}

/// Options accepted before or after any subcommand.
#[derive(Clone, Debug, Default, Args)]
pub struct GlobalOptions {
    /// Show what the plan would run on the host; start nothing (asks no confirmation).
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Show more: every unit's line and the agent's log messages.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Do not ask for confirmation before a real run (needed when stdin is not a terminal).
    #[arg(short = 'y', long = "yes", visible_alias = "no-confirm", global = true)]
    pub yes: bool,

    /// Print the run's summary (or the status) as JSON on stdout, and no progress display.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors; the exit code tells the outcome.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// How to reach the host: `native`, the built-in SSH client, or `openssh`, the system `ssh`
    /// (for what native refuses: Match blocks, ProxyCommand, ControlMaster, certificates, …)
    /// [default: an inventory's `transport` for the host, else native].
    #[arg(long, value_enum, value_name = "TRANSPORT", global = true)]
    pub transport: Option<Transport>,

    /// Read SSH settings from FILE instead of ~/.ssh/config and /etc/ssh/ssh_config (ssh's -F).
    #[arg(short = 'F', long, value_name = "FILE", global = true, value_hint = ValueHint::FilePath)]
    pub ssh_config: Option<PathBuf>,

    /// Connect through these ProxyJump hosts, in order (ssh's -J; wins over the config).
    #[arg(short = 'J', long = "jump", value_name = "HOST[,HOST]", global = true)]
    pub jump: Option<String>,

    /// An ssh_config option, as in the config file (repeatable; ssh's -o: wins over the config).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE", global = true)]
    pub ssh_option: Vec<String>,

    /// Authenticate with this private key (repeatable); tried before the config's IdentityFile.
    #[arg(short = 'i', long = "identity", value_name = "FILE", global = true, value_hint = ValueHint::FilePath)]
    pub identity: Vec<PathBuf>,

    /// Log in as USER (wins over the config's User).
    #[arg(short = 'l', long = "user", value_name = "USER", global = true)]
    pub user: Option<String>,

    /// Connect to PORT (wins over the config's Port).
    #[arg(short = 'p', long, value_name = "PORT", global = true)]
    pub port: Option<u16>,

    /// The agent's command on the host, run as `sudo -n PATH serve`.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "backup-orchestrator",
        global = true
    )]
    pub agent_path: String,

    /// Trust the host's key when it is not yet in known_hosts, and add it there. A changed key is
    /// refused all the same.
    #[arg(long, global = true)]
    pub accept_new_host_key: bool,

    /// Give up connecting (TCP, SSH handshake and authentication) after SECS seconds [default: the
    /// config's ConnectTimeout, else 10].
    #[arg(long, value_name = "SECS", global = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: Option<u64>,

    /// Stop a unit that passes its stage's timeout (by default it is left running).
    #[arg(long, global = true)]
    pub stop_units_on_timeout: bool,

    /// Read groups (`@GROUP`) and per-host settings from FILE [default: hosts.toml in the
    /// user's config dir, e.g. ~/.config/backup-orchestrator/hosts.toml].
    #[arg(long, value_name = "FILE", global = true, value_hint = ValueHint::FilePath)]
    pub inventory: Option<PathBuf>,

    /// Connect to, and run on (or ask: status, cancel, history, check), at most N hosts at once.
    #[arg(long, value_name = "N", default_value_t = 10, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: u32,

    /// Whether --agent-path was given (it then wins over the inventory's agent_path).
    #[arg(skip)]
    pub agent_path_given: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow the host's current run (or show its last one) from its start until its summary;
    /// with --run RUN_ID, replay that older run of one HOST (see `history HOST` for the ids).
    Attach {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
        /// Replay this kept run (an id from `history HOST`) instead of the current or last one.
        #[arg(long = "run", value_name = "RUN_ID")]
        run_id: Option<String>,
    },
    /// A Nagios/Icinga plugin: judge each host's last finished run (starts nothing). One line per
    /// host with perfdata; exit 0 OK, 1 WARNING (partial), 2 CRITICAL (critical, older than
    /// --max-age, or none), 3 UNKNOWN (could not ask); over several hosts the worst, ranked
    /// CRITICAL > WARNING > UNKNOWN > OK.
    Check {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
        /// How old the last finished run may be, e.g. 26h or 1d 2h.
        #[arg(long, value_name = "DURATION", required = true, value_parser = humantime::parse_duration)]
        max_age: Duration,
    },
    /// List the runs kept on the hosts: id, start, duration, verdict and unit counts.
    History {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
    },
    /// Show whether a run is going on on the host, and the last run's summary.
    Status {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
    },
    /// Start no more units in the host's current run.
    Cancel {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
        /// Also stop the units that are running now.
        #[arg(long)]
        stop_units: bool,
    },
    /// Print the journal of a unit's last invocation on HOST (only a unit the host's plan names).
    Logs {
        #[arg(value_name = "HOST", value_hint = ValueHint::Hostname)]
        host: String,
        /// A unit of the host's plan, e.g. syncoid-tank-services.service.
        #[arg(value_name = "UNIT")]
        unit: String,
        /// How many of its last lines (at most 1000).
        #[arg(short = 'n', long, value_name = "N", default_value_t = 20)]
        lines: u32,
    },
    /// Print the SSH settings resolved for HOST, in `ssh -G` format, and exit 3 naming what the
    /// native SSH transport would refuse.
    SshConfig {
        #[arg(value_name = "HOST", value_hint = ValueHint::Hostname)]
        host: String,
    },
    /// Install or upgrade the agent and its sudo rule on hosts over SSH (asks for sudo's password
    /// once per host when needed). Default --agent-path here: /usr/local/bin/backup-orchestrator.
    Install {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
        /// The agent binary to upload [default: backup-orchestrator next to this executable].
        #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
        agent_binary: Option<PathBuf>,
    },
    /// Check what a run needs on hosts (SSH, sudo rule, agent, plan, NAS mounts, D-Bus) and say
    /// how to fix what fails.
    Doctor {
        #[arg(value_name = "TARGET", required = true, value_hint = ValueHint::Hostname)]
        targets: Vec<String>,
    },
    /// Drive the progress display with made-up events (for testing the display).
    #[command(hide = true)]
    DebugRender {
        /// Pause between events, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 120)]
        delay_ms: u64,
    },
    /// Print a shell completion script to stdout.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

/// What to do, once the command line is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run {
        targets: Vec<String>,
    },
    Attach {
        targets: Vec<String>,
        run_id: Option<String>,
    },
    Status {
        targets: Vec<String>,
    },
    History {
        targets: Vec<String>,
    },
    Check {
        targets: Vec<String>,
        max_age: Duration,
    },
    Cancel {
        targets: Vec<String>,
        stop_units: bool,
    },
    Logs {
        host: String,
        unit: String,
        lines: u32,
    },
    SshConfig {
        host: String,
    },
    Install {
        targets: Vec<String>,
        agent_binary: Option<PathBuf>,
    },
    Doctor {
        targets: Vec<String>,
    },
    DebugRender {
        delay_ms: u64,
    },
    Completions {
        shell: clap_complete::Shell,
    },
    Man,
}

impl Cli {
    /// Parses `args` (the first being the program name), refusing a HOST before a subcommand
    /// (`ctl forge status h1`), which clap alone would accept.
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        // `ctl forge status h1`: clap takes `status` for a second TARGET.
        let command = Cli::command();
        let subcommand_named = cli.command.is_none()
            && cli.targets.iter().skip(1).any(|target| {
                command
                    .get_subcommands()
                    .any(|sub| sub.get_name() == target.as_str())
            });
        if let (Some(host), true) = (
            cli.targets.first(),
            cli.command.is_some() || subcommand_named,
        ) {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("HOST {host:?} cannot come before a subcommand; put it after, as in `attach HOST`"),
            ));
        }
        cli.options.agent_path_given = matches!(
            global_value_source(&matches, "agent_path"),
            Some(clap::parser::ValueSource::CommandLine)
        );
        Ok(cli)
    }

    /// The action the command line asks for.
    pub fn action(&self) -> Action {
        match (&self.command, &self.targets) {
            (Some(Command::Attach { targets, run_id }), _) => Action::Attach {
                targets: targets.clone(),
                run_id: run_id.clone(),
            },
            (Some(Command::History { targets }), _) => Action::History {
                targets: targets.clone(),
            },
            (Some(Command::Check { targets, max_age }), _) => Action::Check {
                targets: targets.clone(),
                max_age: *max_age,
            },
            (Some(Command::Status { targets }), _) => Action::Status {
                targets: targets.clone(),
            },
            (
                Some(Command::Cancel {
                    targets,
                    stop_units,
                }),
                _,
            ) => Action::Cancel {
                targets: targets.clone(),
                stop_units: *stop_units,
            },
            (Some(Command::Logs { host, unit, lines }), _) => Action::Logs {
                host: host.clone(),
                unit: unit.clone(),
                lines: *lines,
            },
            (Some(Command::SshConfig { host }), _) => Action::SshConfig { host: host.clone() },
            (
                Some(Command::Install {
                    targets,
                    agent_binary,
                }),
                _,
            ) => Action::Install {
                targets: targets.clone(),
                agent_binary: agent_binary.clone(),
            },
            (Some(Command::Doctor { targets }), _) => Action::Doctor {
                targets: targets.clone(),
            },
            (Some(Command::DebugRender { delay_ms }), _) => Action::DebugRender {
                delay_ms: *delay_ms,
            },
            (Some(Command::Completions { shell }), _) => Action::Completions { shell: *shell },
            (Some(Command::Man), _) => Action::Man,
            // clap requires a TARGET when there is no subcommand.
            (None, targets) => Action::Run {
                targets: targets.clone(),
            },
        }
    }
}

/// Where the global option `id` got its value: a global given after a subcommand is recorded
/// in the subcommand's matches.
fn global_value_source(matches: &clap::ArgMatches, id: &str) -> Option<clap::parser::ValueSource> {
    let mut source = matches.value_source(id);
    let mut current = matches;
    while let Some((_, sub)) = current.subcommand() {
        source = source.max(sub.value_source(id));
        current = sub;
    }
    source
}

/// The exit code for a command line clap refused: 0 for `--help`/`--version` (printed on stdout),
/// 64 for every usage error.
pub fn usage_exit_code(error: &clap::Error) -> i32 {
    if error.use_stderr() {
        exit_codes::USAGE
    } else {
        exit_codes::SUCCESS
    }
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "backup-orchestrator-ctl", &mut script);
    script
}

/// The man page (roff).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    Ok(page)
}

#[cfg(test)]
mod tests;
