//! Free-space checks before a run: [`check`] turns a plan's [`DiskCheck`] into the
//! `PreflightCheck` event.
//!
//! Free space is what an unprivileged writer gets (`f_bavail × f_frsize`), the figure `df`
//! shows as "Avail": the root-reserved blocks are no use to a backup job running as a service
//! user. The `statvfs` runs on a blocking thread with a time limit, because the paths checked
//! are network mounts (`/mnt/nas-backup`) and a hung NFS server blocks `statvfs` for ever.

use std::io;
use std::path::Path;
use std::time::Duration;

use backup_orchestrator_proto::event::PreflightCheck;

use crate::plan::DiskCheck;

/// How long one `statvfs` may take before the check fails.
pub const STATVFS_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes available to an unprivileged writer on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Runs one disk check. A path that cannot be checked (missing, not mounted and absent,
/// permission, a hung mount) fails the check, with the reason in `error`.
pub async fn check(disk: &DiskCheck) -> PreflightCheck {
    let path = disk.path.clone();
    let measured = tokio::time::timeout(
        STATVFS_TIMEOUT,
        tokio::task::spawn_blocking(move || free_bytes(&path)),
    )
    .await;
    let free = match measured {
        Ok(Ok(Ok(free))) => Ok(free),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(join_error)) => Err(format!("the check itself failed: {join_error}")),
        Err(_elapsed) => Err(format!(
            "no answer from the filesystem within {} (a hung network mount?)",
            humantime::format_duration(STATVFS_TIMEOUT)
        )),
    };
    match free {
        Ok(free) => PreflightCheck {
            path: disk.path.display().to_string(),
            min_free_bytes: disk.min_free_bytes,
            free_bytes: Some(free),
            passed: free >= disk.min_free_bytes,
            error: None,
        },
        Err(error) => PreflightCheck {
            path: disk.path.display().to_string(),
            min_free_bytes: disk.min_free_bytes,
            free_bytes: None,
            passed: false,
            error: Some(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use backup_orchestrator_render::preflight_failure;

    use super::*;

    #[test]
    fn free_bytes_reports_space_of_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
    }

    #[test]
    fn free_bytes_fails_for_a_missing_path() {
        let e = free_bytes(Path::new("/nonexistent/backup-orchestrator")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn check_fails_with_error_for_missing_path() {
        let check = check(&DiskCheck {
            path: "/nonexistent/backup-orchestrator".into(),
            min_free_bytes: 1,
        })
        .await;
        assert!(!check.passed);
        assert_eq!(check.free_bytes, None);
        assert!(check.error.is_some());
        assert!(preflight_failure(&check).starts_with("cannot check free space on /nonexistent"));
    }

    #[tokio::test]
    async fn check_compares_free_space_with_the_minimum() {
        let dir = tempfile::tempdir().unwrap();
        let ok = check(&DiskCheck {
            path: dir.path().to_owned(),
            min_free_bytes: 1,
        })
        .await;
        assert!(ok.passed, "{ok:?}");
        let too_small = check(&DiskCheck {
            path: dir.path().to_owned(),
            min_free_bytes: u64::MAX,
        })
        .await;
        assert!(!too_small.passed);
        assert!(too_small.free_bytes.is_some());
        assert!(preflight_failure(&too_small).starts_with("insufficient space on"));
    }
}
