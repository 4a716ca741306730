//! Unit-name globs, with systemd's meaning (`fnmatch` without flags: `*`, `?`, `[...]`), and
//! [`resolve_units`], the one place that turns candidates into a stage's unit list.

use std::collections::BTreeSet;

/// Whether `pattern` contains glob metacharacters (else it is a literal unit name).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// A template unit (`foo@.service`): it cannot be started without an instance name.
pub fn is_template(unit: &str) -> bool {
    unit.rsplit_once('.')
        .is_some_and(|(prefix, _suffix)| prefix.ends_with('@'))
}

/// Whether `pattern` matches `unit`. An invalid pattern matches nothing (plans are validated on
/// load, see [`validate`]).
pub fn matches(pattern: &str, unit: &str) -> bool {
    if !is_glob(pattern) {
        return pattern == unit;
    }
    glob::Pattern::new(pattern).is_ok_and(|p| p.matches(unit))
}

/// Whether any of `patterns` matches `unit`.
pub fn matches_any(patterns: &[String], unit: &str) -> bool {
    patterns.iter().any(|p| matches(p, unit))
}

/// Checks a pattern's syntax; the error says what is wrong.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("a unit pattern must not be empty".to_owned());
    }
    if pattern.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!(
            "invalid unit pattern {pattern:?}: unit names contain no whitespace or `/`"
        ));
    }
    glob::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("invalid unit pattern {pattern:?}: {}", e.msg))
}

/// A plan starts services only: a `.target`, `.socket`, `.timer` … would start whatever it pulls
/// in (and a target never "finishes" as a service does), so a unit pattern (not an exclude) must
/// end in the literal `.service`.
pub fn require_service(pattern: &str) -> Result<(), String> {
    if pattern.ends_with(".service") {
        return Ok(());
    }
    Err(format!(
        "a plan starts .service units only: {pattern:?} must end in \".service\""
    ))
}

/// A glob matching exactly the literal unit name `unit` (its first character in brackets), for a
/// lookup that, unlike a literal, does not keep a name the host lacks (see [`resolve_units`]).
pub fn exact_glob(unit: &str) -> String {
    let mut chars = unit.chars();
    match chars.next() {
        Some(first) => format!("[{first}]{}", chars.as_str()),
        None => String::new(),
    }
}

/// A stage's units: every candidate that `patterns` match and `exclude` does not, plus every
/// literal (non-glob) name in `patterns` even when the host has no such unit (its start then
/// fails, so a missing backup unit is a failure, not a silent omission). Template units are
/// dropped. Sorted by name, without duplicates.
pub fn resolve_units<'c>(
    patterns: &'c [String],
    exclude: &[String],
    candidates: impl IntoIterator<Item = &'c str>,
) -> Vec<String> {
    let literals = patterns.iter().filter(|p| !is_glob(p)).map(String::as_str);
    candidates
        .into_iter()
        .filter(|unit| matches_any(patterns, unit))
        .chain(literals)
        .filter(|unit| !is_template(unit) && !matches_any(exclude, unit))
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn resolve_units_applies_excludes_drops_templates_and_sorts() {
        let units = resolve_units(
            &strings(&["syncoid-*.service"]),
            &strings(&["*replication-info*", "*target-reachability*"]),
            [
                "syncoid-tank-b.service",
                "syncoid-replication-info.service",
                "syncoid-@.service",
                "syncoid-tank-a.service",
                "syncoid-target-reachability.service",
                "syncoid-tank-a.service",
                "sanoid.service",
            ],
        );
        assert_eq!(
            units,
            strings(&["syncoid-tank-a.service", "syncoid-tank-b.service"])
        );
    }

    #[test]
    fn resolve_units_keeps_literal_names_the_host_lacks() {
        let units = resolve_units(&strings(&["pgbackrest-full-backup.service"]), &[], []);
        assert_eq!(units, strings(&["pgbackrest-full-backup.service"]));
    }

    #[test]
    fn templates_are_recognised() {
        assert!(is_template("foo@.service"));
        assert!(!is_template("foo@bar.service"));
        assert!(!is_template("foo.service"));
    }

    #[test]
    fn matches_understands_classes_and_question_marks() {
        assert!(matches(
            "restic-backup-[ab]?.service",
            "restic-backup-a1.service"
        ));
        assert!(!matches(
            "restic-backup-[ab]?.service",
            "restic-backup-c1.service"
        ));
    }

    #[test]
    fn exact_glob_matches_only_its_name() {
        let glob = exact_glob("sanoid.service");
        assert!(is_glob(&glob));
        assert!(matches(&glob, "sanoid.service"));
        assert!(!matches(&glob, "xanoid.service"));
        assert!(resolve_units(&[glob], &[], []).is_empty());
    }

    #[test]
    fn only_service_patterns_are_units() {
        assert!(require_service("syncoid-*.service").is_ok());
        for bad in [
            "multi-user.target",
            "x.socket",
            "x.timer",
            "syncoid-*",
            "*.serv*",
            "a",
        ] {
            assert!(require_service(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_refuses_bad_patterns() {
        assert!(validate("").is_err());
        assert!(validate("foo bar.service").is_err());
        assert!(validate("foo[.service").is_err());
        assert!(validate("syncoid-*.service").is_ok());
    }
}
