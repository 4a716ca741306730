//! [`confirm_prompt`]: the question the controller asks before a real run.

/// `Run the backup plan on forge now? [y/N] `, without a newline: the answer follows on the line.
pub fn confirm_prompt(host: &str) -> String {
    format!("Run the backup plan on {host} now? [y/N] ")
}
