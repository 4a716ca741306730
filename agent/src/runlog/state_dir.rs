//! The state directory's safety: [`ensure_private_dir`], [`open_nofollow`] and [`replace_file`].
//!
//! Root writes the run logs, and root reads them back for whoever runs `sudo backup-orchestrator
//! attach`. A directory another user can write to would let them swap a run's files for symlinks
//! (root then writes through them) or plant a forged log. So the state directory and its `runs/`
//! are created `0750` and owned by the agent's user (root on a host); one that exists with another
//! owner or a group/world write bit is refused, like sshd's StrictModes. Inside them, files are
//! opened with `O_NOFOLLOW` all the same.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::error::RunLogError;

/// Mode of the directories the agent creates.
const DIR_MODE: u32 = 0o750;

/// Creates `dir` (`0750`, not its parents) if it is missing, then checks that it is a real
/// directory (not a symlink) owned by this process's user and not writable by group or others.
pub fn ensure_private_dir(dir: &Path) -> Result<(), RunLogError> {
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(RunLogError::io("create", dir)(e)),
    }
    check_private_dir(dir)
}

/// Checks `dir` as [`ensure_private_dir`] does, without creating it.
pub fn check_private_dir(dir: &Path) -> Result<(), RunLogError> {
    let meta = fs::symlink_metadata(dir).map_err(RunLogError::io("inspect", dir))?;
    let expected_uid = rustix::process::geteuid().as_raw();
    let unsafe_because = if meta.file_type().is_symlink() {
        Some("it is a symlink")
    } else if !meta.is_dir() {
        Some("it is not a directory")
    } else if meta.uid() != expected_uid {
        Some("it is owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Some("group or others can write to it")
    } else {
        None
    };
    match unsafe_because {
        None => Ok(()),
        Some(reason) => Err(RunLogError::UnsafeDir {
            path: dir.to_owned(),
            reason,
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            expected_uid,
        }),
    }
}

/// Opens `path` with `options`, refusing a symlink in its last component.
pub fn open_nofollow(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Replaces `path` with `bytes` through `tmp` (`0640`, written then renamed, so a reader sees the
/// old file or the whole new one; neither is followed if it is a symlink). A temporary file left
/// half-written (a full disk) is removed.
pub fn replace_file(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<(), RunLogError> {
    let written = open_nofollow(
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640),
        tmp,
    )
    .and_then(|mut file| file.write_all(bytes));
    if let Err(e) = written {
        let _ = fs::remove_file(tmp);
        return Err(RunLogError::io("write", tmp)(e));
    }
    fs::rename(tmp, path).map_err(RunLogError::io("replace", path))
}

/// Reads a small file without following a symlink.
pub fn read_nofollow(path: &Path) -> io::Result<String> {
    let mut file = open_nofollow(OpenOptions::new().read(true), path)?;
    let mut text = String::new();
    io::Read::read_to_string(&mut file, &mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn state_dir_is_created_0750_and_then_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        ensure_private_dir(&state).unwrap();
        let mode = fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        // The umask can only take bits away.
        assert_eq!(mode & !DIR_MODE, 0, "{mode:o}");
        ensure_private_dir(&state).unwrap();
    }

    #[test]
    fn state_dir_writable_by_group_or_others_or_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        for mode in [0o770, 0o757, 0o777] {
            fs::set_permissions(&state, fs::Permissions::from_mode(mode)).unwrap();
            let err = ensure_private_dir(&state).unwrap_err().to_string();
            assert!(err.contains("group or others can write to it"), "{err}");
            assert!(err.contains(&format!("mode {mode:04o}")), "{err}");
        }
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&state, &link).unwrap();
        let err = ensure_private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("it is a symlink"), "{err}");
    }

    #[test]
    fn open_nofollow_refuses_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "x").unwrap();
        let link = dir.path().join("current");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_nofollow(&target).unwrap(), "x");
        let err = read_nofollow(&link).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
    }
}
