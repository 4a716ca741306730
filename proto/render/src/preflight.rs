//! A failed free-space check in words: [`preflight_failure`], the reason a run is critical
//! (`Summary::critical_reason`). Sizes as everywhere else in the output (`50GB`, see `format.rs`),
//! so one failure reads the same in the lines, the journal and the summary.

use backup_orchestrator_proto::event::PreflightCheck;

use crate::format;

/// `insufficient space on /mnt/nas-backup: 12GB available, need 50GB`, or why the space could
/// not be checked.
pub fn preflight_failure(check: &PreflightCheck) -> String {
    match (&check.error, check.free_bytes) {
        (Some(error), _) => format!("cannot check free space on {}: {error}", check.path),
        (None, Some(free)) => format!(
            "insufficient space on {}: {} available, need {}",
            check.path,
            format::size(free),
            format::size(check.min_free_bytes)
        ),
        (None, None) => format!("cannot check free space on {}", check.path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_reads_like_df() {
        let check = PreflightCheck {
            path: "/mnt/nas-backup".into(),
            min_free_bytes: 50 << 30,
            free_bytes: Some((12 << 30) + 5),
            passed: false,
            error: None,
        };
        assert_eq!(
            preflight_failure(&check),
            "insufficient space on /mnt/nas-backup: 12GB available, need 50GB"
        );
        let unchecked = PreflightCheck {
            free_bytes: None,
            error: Some("No such file or directory (os error 2)".into()),
            ..check
        };
        assert_eq!(
            preflight_failure(&unchecked),
            "cannot check free space on /mnt/nas-backup: No such file or directory (os error 2)"
        );
    }
}
