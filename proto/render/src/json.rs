//! [`summary_json`]: the `--json` output of both binaries.
//!
//! The schema is documented on [`Summary`] (`backup_orchestrator_proto::summary`); this is serde's
//! rendering of it, keys in declaration order (the user's script's seven keys first), pretty-printed
//! so `jq` and humans read it alike. JSON mode prints it once, at the end, and nothing else on
//! stdout.

use backup_orchestrator_proto::Summary;

/// `Summary` as pretty JSON, keys in the order the type declares them, without a trailing newline.
pub fn summary_json(summary: &Summary) -> String {
    // Plain structs with string keys only: serialization cannot fail.
    serde_json::to_string_pretty(summary).expect("Summary serializes to JSON")
}
