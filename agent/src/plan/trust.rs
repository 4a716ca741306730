//! [`read_trusted`]: the plan file as root may read it, like sshd's StrictModes.
//!
//! The plan is the agent's whole authority (see the module root): as root, a plan that someone
//! other than root can write would let a user allowed only `sudo backup-orchestrator …` make root
//! start units of their choosing. So, running as root, the plan file must be a regular file owned
//! by root that group and others cannot write, and so must every directory above it (a writable
//! directory lets its writer replace the file). A directory with the sticky bit (`/tmp`) is
//! accepted: others cannot rename or delete root's file in it. Symlinks are followed (NixOS links
//! `/etc` files into the Nix store); the directories above both the path as given and the file it
//! resolves to are checked. The file itself is checked on the open descriptor its text is read
//! from, so it cannot be swapped in between.

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::parse::PlanError;

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// The text of the plan at `path`; as root (`enforce`), only if it is root's alone (module doc).
pub fn read_trusted(path: &Path, enforce: bool) -> Result<String, PlanError> {
    let read_error = |source| PlanError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    if enforce {
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(untrusted(path, "it is not a regular file", &meta));
        }
        check(path, &meta, false)?;
        let resolved = fs::canonicalize(path).map_err(read_error)?;
        for dir in ancestors(path).chain(ancestors(&resolved)) {
            let meta = fs::metadata(&dir).map_err(|source| PlanError::Read {
                path: dir.clone(),
                source,
            })?;
            check(&dir, &meta, true)?;
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_error)?;
    Ok(text)
}

/// Whether this process runs as root, where [`read_trusted`] enforces its rule.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn check(path: &Path, meta: &Metadata, is_dir: bool) -> Result<(), PlanError> {
    let mode = meta.permissions().mode();
    if meta.uid() != 0 {
        return Err(untrusted(path, "it is not owned by root", meta));
    }
    if mode & GROUP_OR_OTHER_WRITE != 0 && !(is_dir && mode & STICKY != 0) {
        let what = if is_dir {
            "group or others can write to this directory above the plan"
        } else {
            "group or others can write to it"
        };
        return Err(untrusted(path, what, meta));
    }
    Ok(())
}

fn untrusted(path: &Path, reason: &'static str, meta: &Metadata) -> PlanError {
    PlanError::Untrusted {
        path: path.to_owned(),
        reason,
        uid: meta.uid(),
        mode: meta.permissions().mode() & 0o7777,
    }
}

/// The directories above `path` (made absolute), nearest first.
fn ancestors(path: &Path) -> impl Iterator<Item = PathBuf> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    absolute
        .ancestors()
        .skip(1)
        .map(Path::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_not_owned_by_root_is_refused_as_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.toml");
        fs::write(&path, "x").unwrap();
        // Not enforced (not root, or check-plan --no-host): just read.
        assert_eq!(read_trusted(&path, false).unwrap(), "x");
        if running_as_root() {
            return; // the temporary file is root's: nothing to refuse here
        }
        let e = read_trusted(&path, true).unwrap_err().to_string();
        assert!(e.contains("it is not owned by root"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("mode 0"), "{e}");
    }

    #[test]
    fn a_root_file_in_root_directories_is_trusted() {
        // /etc/hostname: root's, 0644, in root's /etc, on every test machine.
        let path = Path::new("/etc/hostname");
        if fs::metadata(path).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0) {
            read_trusted(path, true).unwrap();
        }
    }

    #[test]
    fn ancestors_are_the_directories_above() {
        let dirs: Vec<PathBuf> =
            ancestors(Path::new("/etc/backup-orchestrator/plan.toml")).collect();
        assert_eq!(
            dirs,
            [
                PathBuf::from("/etc/backup-orchestrator"),
                PathBuf::from("/etc"),
                PathBuf::from("/")
            ]
        );
    }
}
