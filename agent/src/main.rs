//! `backup-orchestrator`: parse the command line, run the command, exit with its code
//! (see `backup_orchestrator::commands`).

fn main() {
    std::process::exit(backup_orchestrator::commands::main());
}
