//! The model of a read config: [`Settings`] (first value wins), the [`Directive`]s with their
//! [`Origin`], the [`PendingMatch`] blocks left for the caller, and the [`ReadError`]s.
//! Its own file so the reader and the policy below `sshconf` share it without reaching up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::lexer;
use crate::ssh::pattern::{self, ListMatch};

/// Where a directive was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl Origin {
    pub(super) fn new(file: &Path, line: usize) -> Self {
        Origin {
            file: file.to_path_buf(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `Keyword args…` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// Lowercase.
    pub keyword: String,
    pub args: Vec<String>,
    pub origin: Origin,
}

impl Directive {
    /// The first argument, or "" for a keyword given none.
    pub fn value(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or_default()
    }
}

/// A `Match` block the reader did not evaluate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMatch {
    /// The criteria as written.
    pub criteria: String,
    pub origin: Origin,
    /// The directives inside it (and in files it includes).
    pub keywords: Vec<Directive>,
    /// Its non-negated `host` patterns, for the final-pass check.
    pub host_patterns: Vec<String>,
}

/// What the config says for one host.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The first value of each keyword (ProxyCommand and ProxyJump share one slot, as in ssh).
    pub(super) first: BTreeMap<String, Directive>,
    /// Every applicable `IdentityFile`, in order, duplicates dropped.
    pub identity_files: Vec<Directive>,
    /// Match blocks that could select the host.
    pub matches: Vec<PendingMatch>,
    /// Match blocks skipped because a host criterion did not match at that point.
    pub(super) skipped_matches: Vec<PendingMatch>,
    /// A `Match final` was seen: ssh reads the config a second time.
    pub(super) wants_final_pass: bool,
}

impl Settings {
    /// The first value of `keyword` (lowercase).
    pub fn get(&self, keyword: &str) -> Option<&Directive> {
        self.first.get(keyword)
    }

    /// Every directive that applies, identity files included.
    pub fn all(&self) -> impl Iterator<Item = &Directive> {
        self.first.values().chain(&self.identity_files)
    }

    /// HostName with `%h` expanded, or the target: what `Match host` compares with.
    pub fn host_name(&self, target: &str) -> String {
        match self.get("hostname") {
            Some(name) => name
                .value()
                .replace("%%", "\u{0}")
                .replace("%h", target)
                .replace('\u{0}', "%"),
            None => target.to_owned(),
        }
    }

    /// Evaluates `Match final` and `Match final all` blocks as ssh's second pass
    /// does: their directives fill what is still unset. Other Match blocks stay pending.
    pub fn evaluate_final_all(&mut self) {
        let (decided, pending): (Vec<PendingMatch>, Vec<PendingMatch>) =
            std::mem::take(&mut self.matches)
                .into_iter()
                .partition(|m| {
                    m.criteria
                        .split_whitespace()
                        .all(|c| c.eq_ignore_ascii_case("final") || c.eq_ignore_ascii_case("all"))
                        && m.criteria.to_ascii_lowercase().contains("final")
                });
        self.matches = pending;
        for block in decided {
            tracing::debug!(origin = %block.origin, "evaluating Match final all");
            for directive in block.keywords {
                self.apply(directive);
            }
        }
    }

    /// Skipped `Match host` blocks that ssh's second pass (asked for by a `Match final`) would
    /// select, since it compares with the final HostName.
    pub fn final_pass_matches(&self, target: &str) -> Vec<&PendingMatch> {
        if !self.wants_final_pass {
            return Vec::new();
        }
        let host = self.host_name(target);
        self.skipped_matches
            .iter()
            .filter(|m| {
                !m.host_patterns.is_empty()
                    && m.host_patterns
                        .iter()
                        .all(|list| pattern::host_list(&host, list) == ListMatch::Matched)
            })
            .collect()
    }
}

/// The config could not be read (exit 64, as ssh refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("failed to read the SSH config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: bad SSH config line")]
    Syntax {
        origin: Origin,
        #[source]
        source: lexer::LexError,
    },
    #[error(
        "{origin}: bad configuration option: {keyword} (OpenSSH 9.2 does not know it either; `IgnoreUnknown {keyword}` before it tells both to skip it)"
    )]
    UnknownKeyword { keyword: String, origin: Origin },
    #[error("{keyword} cannot be given with -o")]
    NotOnCommandLine { keyword: String },
    #[error("{origin}: Include nests more than 16 files deep")]
    IncludeDepth { origin: Origin },
    #[error("{origin}: bad Include path {path} (a system-wide config may not use ~)")]
    BadInclude { origin: Origin, path: String },
    #[error("{origin}: bad Include pattern")]
    BadGlob {
        origin: Origin,
        #[source]
        source: glob::PatternError,
    },
    #[error("no home directory to find ~/.ssh in; pass --ssh-config FILE")]
    NoHome,
}

impl Settings {
    pub(super) fn apply(&mut self, directive: Directive) {
        match directive.keyword.as_str() {
            "identityfile" => {
                if !self.identity_files.iter().any(|d| d.args == directive.args) {
                    self.identity_files.push(directive);
                }
            }
            // ssh keeps one slot for the two: whichever comes first wins (`none` included).
            "proxycommand" | "proxyjump" => {
                if !self.first.contains_key("proxycommand") && !self.first.contains_key("proxyjump")
                {
                    self.first.insert(directive.keyword.clone(), directive);
                }
            }
            _ => {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    self.first.entry(directive.keyword.clone())
                {
                    slot.insert(directive);
                }
            }
        }
    }

    pub(super) fn ignores(&self, keyword: &str) -> bool {
        self.first.get("ignoreunknown").is_some_and(|d| {
            d.args
                .iter()
                .any(|list| pattern::list(keyword, list.split(','), true) == ListMatch::Matched)
        })
    }
}
