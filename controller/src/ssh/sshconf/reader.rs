//! Reading ssh_config files for one host the way OpenSSH 9.2's `readconf.c` does: [`read`].
//!
//! ```text
//!  -o lines ─▶ -F FILE | ~/.ssh/config ─▶ /etc/ssh/ssh_config (not under -F)
//!                 │ Host: active while a pattern matches the target as typed (case-sensitive),
//!                 │       and no `!pattern` does
//!                 │ Match: a host/originalhost criterion that cannot match: skipped; otherwise
//!                 │        recorded as pending (the caller refuses it), its lines not applied
//!                 │ Include: globbed, relative to ~/.ssh (user files and -F) or /etc/ssh; read
//!                 │          even when inactive, but then no Host line in it can match
//!                 ▼
//!  Settings: the first value of every keyword, IdentityFile accumulated, each with its file:line
//! ```

use std::path::{Path, PathBuf};

use super::lexer::{self, LexError};
use super::model::{Directive, Origin, PendingMatch, ReadError, Settings};
use crate::ssh::pattern::{self, ListMatch};

/// Include depth at which OpenSSH gives up (`READCONF_MAX_DEPTH`).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where to read from, and the facts matching depends on.
#[derive(Clone, Debug)]
pub struct Sources<'a> {
    /// The host as typed (without `user@`).
    pub target: &'a str,
    pub home: Option<&'a Path>,
    /// `-o Key=Value` lines, in order: read first, so they win.
    pub command_line: &'a [String],
    /// `-F FILE`, or `~/.ssh/config` when it exists.
    pub user_file: Option<&'a Path>,
    /// `/etc/ssh/ssh_config`; `None` under `-F`.
    pub system_file: Option<&'a Path>,
}

/// Which lines currently apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Active,
    Inactive,
    /// Inside the undecided Match block at this index of `Settings::matches`.
    InMatch(usize),
    /// Inside the skipped Match block at this index of `Settings::skipped_matches` (its lines
    /// are kept for the final-pass check).
    InSkippedMatch(usize),
}

struct Reader<'a> {
    sources: &'a Sources<'a>,
    settings: Settings,
}

/// Reads every source for `sources.target`.
pub fn read(sources: &Sources<'_>) -> Result<Settings, ReadError> {
    let mut reader = Reader {
        sources,
        settings: Settings::default(),
    };
    let cmdline = Path::new("command line");
    for (index, text) in sources.command_line.iter().enumerate() {
        let origin = Origin::new(cmdline, index + 1);
        let line = split(text, &origin)?;
        if let Some(line) = line {
            if matches!(line.keyword.as_str(), "host" | "match" | "include") {
                return Err(ReadError::NotOnCommandLine {
                    keyword: line.keyword,
                });
            }
            let mut state = State::Active;
            reader.line(line, origin, &mut state, true, 0, false)?;
        }
    }
    if let Some(file) = sources.user_file {
        reader.file(file, true, State::Active, false, 0)?;
    }
    if let Some(file) = sources.system_file {
        reader.file(file, false, State::Active, false, 0)?;
    }
    Ok(reader.settings)
}

fn split(text: &str, origin: &Origin) -> Result<Option<lexer::Line>, ReadError> {
    lexer::split_line(text).map_err(|source: LexError| ReadError::Syntax {
        origin: origin.clone(),
        source,
    })
}

impl Reader<'_> {
    /// Reads one file starting in `state`; `never_match` when included from an inactive block.
    fn file(
        &mut self,
        path: &Path,
        user: bool,
        mut state: State,
        never_match: bool,
        depth: usize,
    ) -> Result<(), ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        for (index, raw) in text.lines().enumerate() {
            let origin = Origin::new(path, index + 1);
            if let Some(line) = split(raw, &origin)? {
                self.line(line, origin, &mut state, user, depth, never_match)?;
            }
        }
        Ok(())
    }

    fn line(
        &mut self,
        line: lexer::Line,
        origin: Origin,
        state: &mut State,
        user: bool,
        depth: usize,
        never_match: bool,
    ) -> Result<(), ReadError> {
        match line.keyword.as_str() {
            "host" => {
                *state = if !never_match && self.host_matches(&line.args) {
                    State::Active
                } else {
                    State::Inactive
                };
            }
            "match" => {
                *state = if never_match {
                    State::Inactive
                } else {
                    self.match_line(line.args, origin)
                };
            }
            "include" => {
                let inactive =
                    matches!(*state, State::Inactive | State::InSkippedMatch(_)) || never_match;
                for arg in &line.args {
                    for file in self.include_files(arg, user, &origin)? {
                        if depth + 1 > MAX_INCLUDE_DEPTH {
                            return Err(ReadError::IncludeDepth { origin });
                        }
                        // An included file's Host lines do not change the includer's state.
                        self.file(&file, user, *state, inactive, depth + 1)?;
                    }
                }
            }
            _ => self.directive(line, origin, *state)?,
        }
        Ok(())
    }

    /// `Host p1 p2 !p3`: against the target as typed, case-sensitive; a negated match wins.
    fn host_matches(&self, patterns: &[String]) -> bool {
        pattern::list(
            self.sources.target,
            patterns.iter().map(String::as_str),
            false,
        ) == ListMatch::Matched
    }

    /// Decides what a Match line can: a `host`/`originalhost` criterion that fails skips it.
    fn match_line(&mut self, args: Vec<String>, origin: Origin) -> State {
        let host_so_far = self.settings.host_name(self.sources.target);
        let mut decided_false = false;
        let mut host_patterns = Vec::new();
        let mut args_iter = args.iter();
        while let Some(criterion) = args_iter.next() {
            let (negate, name) = match criterion.strip_prefix('!') {
                Some(name) => (true, name.to_ascii_lowercase()),
                None => (false, criterion.to_ascii_lowercase()),
            };
            if matches!(name.as_str(), "all" | "canonical" | "final") {
                if name == "final" && !negate {
                    self.settings.wants_final_pass = true;
                }
                continue;
            }
            let Some(value) = args_iter.next() else { break };
            let subject = match name.as_str() {
                "host" => &host_so_far,
                "originalhost" => self.sources.target,
                _ => continue,
            };
            let matched = pattern::host_list(subject, value) == ListMatch::Matched;
            if name == "host" && !negate {
                host_patterns.push(value.clone());
            }
            if matched == negate {
                decided_false = true;
            }
        }
        let pending = PendingMatch {
            criteria: args.join(" "),
            origin,
            keywords: Vec::new(),
            host_patterns,
        };
        if decided_false {
            tracing::debug!(origin = %pending.origin, "Match cannot select this host: skipped");
            self.settings.skipped_matches.push(pending);
            State::InSkippedMatch(self.settings.skipped_matches.len() - 1)
        } else {
            self.settings.matches.push(pending);
            State::InMatch(self.settings.matches.len() - 1)
        }
    }

    /// The files an `Include` argument names, sorted as glob(3) returns them.
    fn include_files(
        &self,
        arg: &str,
        user: bool,
        origin: &Origin,
    ) -> Result<Vec<PathBuf>, ReadError> {
        if arg.starts_with('~') && !user {
            return Err(ReadError::BadInclude {
                origin: origin.clone(),
                path: arg.to_owned(),
            });
        }
        let anchored = if Path::new(arg).is_absolute() || arg.starts_with('~') {
            arg.to_owned()
        } else if user {
            format!("~/.ssh/{arg}")
        } else {
            format!("/etc/ssh/{arg}")
        };
        let expanded = match (anchored.strip_prefix("~/"), self.sources.home) {
            (Some(rest), Some(home)) => home.join(rest).to_string_lossy().into_owned(),
            (Some(_), None) => return Err(ReadError::NoHome),
            (None, _) => anchored,
        };
        let options = glob::MatchOptions {
            require_literal_leading_dot: true,
            ..glob::MatchOptions::new()
        };
        let entries = glob::glob_with(&expanded, options).map_err(|source| ReadError::BadGlob {
            origin: origin.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).collect();
        files.sort();
        if files.is_empty() {
            tracing::debug!(%origin, pattern = %expanded, "Include matched no files");
        }
        Ok(files)
    }

    /// Applies a directive, first value wins, or notes it under its pending Match.
    fn directive(
        &mut self,
        line: lexer::Line,
        origin: Origin,
        state: State,
    ) -> Result<(), ReadError> {
        let keyword = line.keyword;
        if super::policy::classify(&keyword).is_none() && !self.settings.ignores(&keyword) {
            return Err(ReadError::UnknownKeyword { keyword, origin });
        }
        let directive = Directive {
            keyword,
            args: line.args,
            origin,
        };
        match state {
            State::Inactive => {}
            State::InMatch(index) => self.settings.matches[index].keywords.push(directive),
            State::InSkippedMatch(index) => {
                self.settings.skipped_matches[index]
                    .keywords
                    .push(directive);
            }
            State::Active => self.settings.apply(directive),
        }
        Ok(())
    }
}
