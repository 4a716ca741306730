//! OpenSSH's host patterns (`match.c`): `*` matches any run of characters, `?` one character,
//! and a list may negate entries with `!`. Shared by ssh_config (`Host`, `Match host`) and
//! known_hosts.
//!
//! Case matters in `Host` lines (the target as typed is compared as is) but not for host names in
//! `Match host` or known_hosts, which OpenSSH lowercases on both sides.

/// How a name fares against a pattern list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMatch {
    /// A positive pattern matched and no negated one did.
    Matched,
    /// A negated pattern matched: the list rejects the name whatever else matches.
    Negated,
    NoMatch,
}

/// `*`/`?` glob, case-sensitive (OpenSSH `match_pattern`).
pub fn glob(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star, consumed)) => {
                    p = star + 1;
                    n = consumed + 1;
                    backtrack = Some((star, consumed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches `name` against `patterns` (each possibly `!`-negated), as OpenSSH's
/// `match_pattern_list`; `lowercase` folds both sides, as for host names.
pub fn list<'a>(
    name: &str,
    patterns: impl IntoIterator<Item = &'a str>,
    lowercase: bool,
) -> ListMatch {
    let name = if lowercase {
        name.to_lowercase()
    } else {
        name.to_owned()
    };
    let mut result = ListMatch::NoMatch;
    for pattern in patterns {
        let pattern = if lowercase {
            pattern.to_lowercase()
        } else {
            pattern.to_owned()
        };
        match pattern.strip_prefix('!') {
            Some(negated) if glob(negated, &name) => return ListMatch::Negated,
            Some(_) => {}
            None if glob(&pattern, &name) => result = ListMatch::Matched,
            None => {}
        }
    }
    result
}

/// A comma-separated host list, case-insensitive (`Match host`, known_hosts).
pub fn host_list(name: &str, comma_list: &str) -> ListMatch {
    list(name, comma_list.split(','), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_globs_like_openssh() {
        assert!(glob("*", "anything"));
        assert!(glob("h?.lab", "h1.lab"));
        assert!(!glob("h?.lab", "H1.lab"));
        assert!(glob("[*]:2222", "[10.0.0.1]:2222"));
        assert!(!glob("h?.lab", "h10.lab"));
        assert!(glob("*.*.lab", "a.b.lab"));
        assert!(!glob("a*b", "acbd"));
        assert!(glob("", ""));
    }

    #[test]
    fn pattern_lists_negate_and_fold_case_for_hosts() {
        assert_eq!(host_list("H1.LAB", "*.lab,!db.lab"), ListMatch::Matched);
        assert_eq!(host_list("db.lab", "*.lab,!db.lab"), ListMatch::Negated);
        assert_eq!(host_list("x", "!db.lab"), ListMatch::NoMatch);
        assert_eq!(list("Foo", ["foo"], false), ListMatch::NoMatch);
    }
}
