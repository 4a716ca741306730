//! Host key checks against OpenSSH known_hosts files: [`verify`].
//!
//! Strict by default, and never "accept every key":
//! - the key must be listed for the name (HostName or address) and port actually connected to,
//!   looked up as `host` on port 22 and `[host]:port` otherwise, as OpenSSH writes them; off
//!   port 22 a matching key listed under the plain `host` is accepted too, as ssh does;
//! - a key of a type not listed while another type is (the host should have offered the known
//!   type) is refused as changed, whatever the policy, as ssh does under accept-new;
//! - a key not listed at all is refused with its SHA256 fingerprint, unless the policy is
//!   accept-new (`--accept-new-host-key`, `StrictHostKeyChecking accept-new|no`): then it is
//!   appended to the first user known_hosts file;
//! - a different key of the same type is a *changed* key: always refused, naming the file and line;
//! - a key marked `@revoked` is always refused.
//!
//! The file format is parsed here rather than with `russh::keys::check_known_hosts_path`, which
//! does not match wildcard or negated patterns or tab-separated lines, and miscounts line numbers
//! after comments. Supported: comma-separated patterns with `*`, `?` and `!`, hashed names
//! (`|1|salt|hash`, HMAC-SHA1), markers (`@cert-authority` lines are skipped: host certificates
//! are not used), comments and blank lines.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

use super::endpoint::HostKeyPolicy;

/// Where and how to check one server's key.
#[derive(Clone, Debug)]
pub struct HostKeyCheck {
    /// The name the user knows the host by, for messages.
    pub alias: String,
    /// The HostName or address connected to, and the port.
    pub host: String,
    pub port: u16,
    /// Checked first; accepted new keys go to the first one.
    pub user_files: Vec<PathBuf>,
    pub global_files: Vec<PathBuf>,
    pub policy: HostKeyPolicy,
    /// `HashKnownHosts yes`: record the key under a hashed name.
    pub hash: bool,
}

impl HostKeyCheck {
    /// The name known_hosts lists this host under: `host`, or `[host]:port` off port 22.
    pub fn lookup_name(&self) -> String {
        lookup_name(&self.host, self.port)
    }

    fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.user_files.iter().chain(&self.global_files)
    }
}

/// The key was accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Listed at `path:line`.
    Known { path: PathBuf, line: usize },
    /// Not listed, and appended to `path` under the accept-new policy.
    Learned { path: PathBuf },
}

/// Why a host key was refused (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error(
        "the host key of {alias} ({lookup}) is not known: {algorithm} {fingerprint}\n\
         If that is the host's key (compare with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the \
         host), run again with --accept-new-host-key, or add it to {} with:\n  \
         ssh-keyscan -p {port} -t {algorithm} {host} >> {}",
        file.display(),
        file.display()
    )]
    Unknown {
        alias: String,
        lookup: String,
        host: String,
        port: u16,
        algorithm: String,
        fingerprint: String,
        file: PathBuf,
    },
    #[error(
        "the host key of {alias} ({lookup}) has CHANGED: the host offered {algorithm} {fingerprint}, \
         but {}:{line} lists another {algorithm} key for it. Someone may be intercepting the \
         connection, or the host was reinstalled. Refusing to connect. If you know the key was \
         changed, remove the old one with:\n  ssh-keygen -R '{lookup}' -f {}",
        path.display(),
        path.display()
    )]
    Changed {
        alias: String,
        lookup: String,
        algorithm: String,
        fingerprint: String,
        path: PathBuf,
        line: usize,
    },
    #[error(
        "the host key of {alias} ({lookup}), {fingerprint}, is marked @revoked in {}:{line}; refusing to connect",
        path.display()
    )]
    Revoked {
        alias: String,
        lookup: String,
        fingerprint: String,
        path: PathBuf,
        line: usize,
    },
    #[error(
        "the host key of {alias} ({lookup}) is not known, {algorithm} {fingerprint}, but {}:{line} \
         lists a {known_algorithm} key for it: as ssh, this is taken for a changed key (the host \
         should have offered the known type). Refusing to connect, whatever StrictHostKeyChecking \
         or --accept-new-host-key say. If the host's keys were changed, remove the old one with:\n  \
         ssh-keygen -R '{lookup}' -f {}",
        path.display(),
        path.display()
    )]
    OtherTypeKnown {
        alias: String,
        lookup: String,
        algorithm: String,
        fingerprint: String,
        known_algorithm: String,
        path: PathBuf,
        line: usize,
    },
    #[error(
        "{alias} ({lookup}) presented a host certificate; host certificates are not supported, \
         list its plain host key in known_hosts"
    )]
    Certificate { alias: String, lookup: String },
    #[error("failed to add the host key of {alias} to {}", path.display())]
    Write {
        alias: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What the known_hosts files say about `key` for one host, before any policy.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Known {
        path: PathBuf,
        line: usize,
    },
    /// No line lists this key type for the host (it may be known by keys of other types).
    Unknown,
    /// A line lists another key of the same type.
    Changed {
        path: PathBuf,
        line: usize,
    },
    Revoked {
        path: PathBuf,
        line: usize,
    },
}

/// Checks `key` against the files and applies the policy (appending a new key under accept-new).
/// The error is boxed: it is large, and rare.
pub fn verify(check: &HostKeyCheck, key: &PublicKey) -> Result<Verified, Box<HostKeyError>> {
    let lookup = check.lookup_name();
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let algorithm = key.algorithm().as_str().to_owned();
    match lookup_key(&check.host, check.port, key, check.files()) {
        Lookup::Known { path, line } => Ok(Verified::Known { path, line }),
        Lookup::Changed { path, line } => Err(Box::new(HostKeyError::Changed {
            alias: check.alias.clone(),
            lookup,
            algorithm,
            fingerprint,
            path,
            line,
        })),
        Lookup::Revoked { path, line } => Err(Box::new(HostKeyError::Revoked {
            alias: check.alias.clone(),
            lookup,
            fingerprint,
            path,
            line,
        })),
        Lookup::Unknown => {
            // Off port 22, ssh also accepts the key listed under the plain host name (measured
            // with OpenSSH 9.2 against a test host: tests/tests/integration/ssh_rules.rs). Only
            // a match counts: a plain-name line never makes a key "changed".
            if check.port != 22
                && let Lookup::Known { path, line } =
                    lookup_key(&check.host, 22, key, check.files())
            {
                return Ok(Verified::Known { path, line });
            }
            if let Some((known_algorithm, path, line)) = other_type_known(check) {
                return Err(Box::new(HostKeyError::OtherTypeKnown {
                    alias: check.alias.clone(),
                    lookup,
                    algorithm,
                    fingerprint,
                    known_algorithm,
                    path,
                    line,
                }));
            }
            let file = check
                .user_files
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("~/.ssh/known_hosts"));
            match check.policy {
                HostKeyPolicy::AcceptNew => {
                    let name = if check.hash {
                        hashed_name(&lookup).map_err(|source| {
                            Box::new(HostKeyError::Write {
                                alias: check.alias.clone(),
                                path: file.clone(),
                                source,
                            })
                        })?
                    } else {
                        lookup.clone()
                    };
                    append(&file, &name, key).map_err(|source| {
                        Box::new(HostKeyError::Write {
                            alias: check.alias.clone(),
                            path: file.clone(),
                            source,
                        })
                    })?;
                    // One line, as ssh's "Permanently added": the user sees what was trusted.
                    eprintln!(
                        "Added the host key of {} ({lookup}) to {}: {algorithm} {fingerprint}",
                        check.alias,
                        file.display()
                    );
                    Ok(Verified::Learned { path: file })
                }
                HostKeyPolicy::Strict => Err(Box::new(HostKeyError::Unknown {
                    alias: check.alias.clone(),
                    lookup,
                    host: check.host.clone(),
                    port: check.port,
                    algorithm,
                    fingerprint,
                    file,
                })),
            }
        }
    }
}

/// Looks `key` up for `host`/`port` in `files` (missing files are empty).
pub fn lookup_key<'p>(
    host: &str,
    port: u16,
    key: &PublicKey,
    files: impl IntoIterator<Item = &'p PathBuf>,
) -> Lookup {
    let name = lookup_name(host, port);
    let mut changed = None;
    let mut known = None;
    for path in files {
        for entry in entries(path, &name) {
            let same_key = entry.key.key_data() == key.key_data();
            match entry.marker {
                Marker::Revoked if same_key => {
                    return Lookup::Revoked {
                        path: path.clone(),
                        line: entry.line,
                    };
                }
                Marker::Revoked | Marker::CertAuthority => {}
                Marker::None if same_key => {
                    known.get_or_insert((path.clone(), entry.line));
                }
                Marker::None if entry.key.algorithm() == key.algorithm() => {
                    changed.get_or_insert((path.clone(), entry.line));
                }
                Marker::None => {}
            }
        }
    }
    match (known, changed) {
        (Some((path, line)), _) => Lookup::Known { path, line },
        (None, Some((path, line))) => Lookup::Changed { path, line },
        (None, None) => Lookup::Unknown,
    }
}

/// The key types listed for `host`/`port`, so the handshake can prefer a type we can check.
pub fn known_algorithms<'p>(
    host: &str,
    port: u16,
    files: impl IntoIterator<Item = &'p PathBuf>,
) -> Vec<Algorithm> {
    let name = lookup_name(host, port);
    let mut algorithms: Vec<Algorithm> = Vec::new();
    for path in files {
        for entry in entries(path, &name) {
            if entry.marker == Marker::None && !algorithms.contains(&entry.key.algorithm()) {
                algorithms.push(entry.key.algorithm());
            }
        }
    }
    algorithms
}

/// The first key of another type listed for the host: ssh then calls an unknown key "changed".
fn other_type_known(check: &HostKeyCheck) -> Option<(String, PathBuf, usize)> {
    let name = check.lookup_name();
    check.files().find_map(|path| {
        entries(path, &name)
            .into_iter()
            .find(|entry| entry.marker == Marker::None)
            .map(|entry| {
                (
                    entry.key.algorithm().as_str().to_owned(),
                    path.clone(),
                    entry.line,
                )
            })
    })
}

/// `|1|salt|hash` for `name`: HMAC-SHA1 keyed with 20 random bytes, as `HashKnownHosts yes`.
fn hashed_name(name: &str) -> io::Result<String> {
    let mut salt = [0u8; 20];
    io::Read::read_exact(&mut fs::File::open("/dev/urandom")?, &mut salt)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&salt).map_err(io::Error::other)?;
    mac.update(name.as_bytes());
    let hash = mac.finalize().into_bytes();
    Ok(format!(
        "|1|{}|{}",
        BASE64.encode(&salt),
        BASE64.encode(&hash)
    ))
}

/// `host` on port 22, `[host]:port` otherwise.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    None,
    CertAuthority,
    Revoked,
}

struct Entry {
    /// 1-based line number in its file.
    line: usize,
    marker: Marker,
    key: PublicKey,
}

/// The entries of `path` whose host patterns match `name`.
fn entries(path: &Path, name: &str) -> Vec<Entry> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot read known_hosts file");
            }
            return Vec::new();
        }
    };
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            parse_line(line, name).map(|(marker, key)| (index + 1, marker, key))
        })
        .map(|(line, marker, key)| Entry { line, marker, key })
        .collect()
}

/// One line's marker and key, if the line lists `name`.
fn parse_line(line: &str, name: &str) -> Option<(Marker, PublicKey)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@cert-authority" => Marker::CertAuthority,
        "@revoked" => Marker::Revoked,
        marker if marker.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    }
    if !hosts_match(first, name) {
        return None;
    }
    let key_type = fields.next()?;
    let key_data = fields.next()?;
    match PublicKey::from_openssh(&format!("{key_type} {key_data}")) {
        Ok(key) => Some((marker, key)),
        Err(e) => {
            tracing::debug!(%key_type, error = %e, "skipping an unreadable known_hosts key");
            None
        }
    }
}

/// OpenSSH semantics: some positive pattern matches and no negated one does.
fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_nocase(negated, name) {
                return false;
            }
        } else if let Some(hashed) = pattern.strip_prefix("|1|") {
            matched |= hashed_match(hashed, name);
        } else {
            matched |= glob_nocase(pattern, name);
        }
    }
    matched
}

/// `salt|hash` (both base64): HMAC-SHA1 keyed with the salt over the name.
fn hashed_match(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Host names in known_hosts compare case-insensitively.
fn glob_nocase(pattern: &str, name: &str) -> bool {
    super::pattern::glob(&pattern.to_lowercase(), &name.to_lowercase())
}

/// Appends `name key-type base64` to `path`, creating it 0600 (and a missing `~/.ssh` 0700, as
/// ssh) when needed. `/dev/null` and other non-files take the line and are not synced.
fn append(path: &Path, name: &str, key: &PublicKey) -> io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let needs_newline = fs::read(path)
        .map(|bytes| bytes.last().is_some_and(|&b| b != b'\n'))
        .unwrap_or(false);
    let mut key = key.clone();
    key.set_comment("");
    let encoded = key.to_openssh().map_err(io::Error::other)?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mut line = String::new();
    if needs_newline {
        line.push('\n');
    }
    line.push_str(&format!("{name} {}\n", encoded.trim()));
    file.write_all(line.as_bytes())?;
    if file.metadata()?.is_file() {
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
