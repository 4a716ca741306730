//! Unit files by name, read from systemd's own search path (`Manager.UnitPath`) with
//! `read_dir`, for discovery.
//!
//! Why not `Manager.ListUnitFilesByPatterns`: for every unit file it lists, systemd works out the
//! file's enablement state (it reads the file, follows `[Install]`, looks for `.wants/` links in
//! every directory of the search path). Measured on a test host: ~2 ms of PID 1's single thread per
//! listed file, ~17 ms for the 10 `syncoid-*` files, during which systemd answers nobody else, so a
//! stage's units started and finished late. Discovery needs only the names, and the file system
//! has them.
//!
//! What counts as a unit file here is what `ListUnitFiles` lists, minus aliases:
//! - a regular file, or a symbolic link with the unit's own name as its target's name (a unit
//!   linked in from elsewhere, `systemctl link`), in one of the search path's directories (not in
//!   their subdirectories: `foo.service.d/`, `*.wants/`);
//! - a link to `/dev/null` (a masked unit) counts too: the unit stays in its stage and its start
//!   fails with `org.freedesktop.systemd1.UnitMasked`, as it did when discovery asked systemd, so
//!   a masked backup unit shows up as a failure rather than vanishing from the plan;
//! - a link to a file of another name is an alias: skipped, the unit is listed under its own name;
//! - hidden files (`.#foo.service…`, systemd's temporary files) and names that are not unit names
//!   are skipped, as systemd skips them.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The suffixes of unit names (`systemd.unit(5)`).
const UNIT_TYPES: [&str; 11] = [
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
    "slice",
    "scope",
];

/// Names of the unit files in `dirs` that one of `globs` matches (see the module doc). A
/// directory that does not exist is skipped, as systemd skips it; one that cannot be read is an
/// error.
pub(crate) fn matching(dirs: &[PathBuf], globs: &[&str]) -> io::Result<BTreeSet<String>> {
    // Compiled once: a directory like /usr/lib/systemd/system holds hundreds of names.
    let globs: Vec<glob::Pattern> = globs
        .iter()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    let mut found = BTreeSet::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                continue;
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.')
                || !is_unit_name(&name)
                || !globs.iter().any(|g| g.matches(&name))
            {
                continue;
            }
            match entry
                .file_type()
                .and_then(|kind| counts_as_unit_file(&entry.path(), &name, kind))
            {
                Ok(true) => {
                    found.insert(name);
                }
                Ok(false) => {}
                // Removed since it was listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(found)
}

/// Whether the directory entry `path` (named `name`, of type `kind`) is the unit file of `name`:
/// see the module doc.
fn counts_as_unit_file(path: &Path, name: &str, kind: fs::FileType) -> io::Result<bool> {
    if kind.is_dir() {
        return Ok(false);
    }
    if !kind.is_symlink() {
        return Ok(true);
    }
    let target = fs::read_link(path)?;
    if target == Path::new("/dev/null") {
        return Ok(true); // masked
    }
    if target.file_name() != Some(OsStr::new(name)) {
        return Ok(false); // an alias
    }
    // A linked unit file; a link to a directory of that name is no unit file.
    Ok(!fs::metadata(path).is_ok_and(|m| m.is_dir()))
}

/// A valid unit name: `PREFIX.TYPE` with a known type and only the characters systemd allows
/// (letters, digits, `:-_.\@`).
fn is_unit_name(name: &str) -> bool {
    let Some((prefix, suffix)) = name.rsplit_once('.') else {
        return false;
    };
    !prefix.is_empty()
        && name.len() <= 255
        && UNIT_TYPES.contains(&suffix)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn unit_files_are_found_by_name_across_the_search_path() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        let lib = root.path().join("lib");
        let elsewhere = root.path().join("elsewhere");
        for dir in [&etc, &lib, &elsewhere] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(lib.join("syncoid-a.service"), "").unwrap();
        fs::write(lib.join("syncoid-b.service"), "").unwrap();
        fs::write(lib.join("syncoid-@.service"), "").unwrap(); // a template: resolve_units drops it
        fs::write(lib.join("sanoid.service"), "").unwrap();
        fs::write(lib.join(".#syncoid-tmp.service1234"), "").unwrap();
        fs::write(lib.join("syncoid-a.service~"), "").unwrap();
        fs::create_dir(lib.join("syncoid-a.service.d")).unwrap();
        fs::create_dir(lib.join("syncoid-wants.target.wants")).unwrap();
        // /etc overrides a /lib file of the same name: listed once.
        fs::write(etc.join("syncoid-a.service"), "").unwrap();
        // Masked: kept (its start then fails with UnitMasked).
        symlink("/dev/null", etc.join("syncoid-masked.service")).unwrap();
        // An alias of syncoid-b: skipped.
        symlink(
            lib.join("syncoid-b.service"),
            etc.join("syncoid-alias.service"),
        )
        .unwrap();
        // Linked in from outside the search path: kept.
        fs::write(elsewhere.join("syncoid-linked.service"), "").unwrap();
        symlink(
            elsewhere.join("syncoid-linked.service"),
            etc.join("syncoid-linked.service"),
        )
        .unwrap();

        let dirs = [etc, root.path().join("missing"), lib];
        let found = matching(&dirs, &["syncoid-*"]).unwrap();
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                "syncoid-@.service",
                "syncoid-a.service",
                "syncoid-b.service",
                "syncoid-linked.service",
                "syncoid-masked.service",
            ]
        );
        let found = matching(&dirs, &["*.target", "sanoid.service"]).unwrap();
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["sanoid.service"]);
    }

    #[test]
    fn unit_names_need_a_known_type_and_allowed_characters() {
        assert!(is_unit_name("syncoid-tank-services-plex.service"));
        assert!(is_unit_name(r"mnt-nas\x2dbackup.mount"));
        assert!(is_unit_name("getty@tty1.service"));
        assert!(!is_unit_name("foo.service.d"));
        assert!(!is_unit_name("foo.service~"));
        assert!(!is_unit_name(".service"));
        assert!(!is_unit_name("foo bar.service"));
        assert!(!is_unit_name("README"));
    }
}
