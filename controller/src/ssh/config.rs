//! Host resolution: from the HOST the user typed (an ssh_config alias, a name or an address) to a
//! [`Target`]: the address, port and user actually connected to, the keys and agent to use, the
//! known_hosts files and policy, the connect timeout and the ProxyJump hops in front of it.
//!
//! The config is read by [`sshconf`](super::sshconf) with OpenSSH 9.2's semantics; this module
//! turns its first values into a target and refuses, before anything is contacted, what the
//! native transport would otherwise silently do differently from ssh ([`Refusal`]: a `Match` that
//! could select the host, or a directive like `ProxyCommand` that applies to it).
//!
//! Precedence, highest first: `USER@HOST`, `-l`/`-p`/`-J` and `-o`, the config, OpenSSH's
//! defaults. `-i` files come before the config's `IdentityFile`s. ProxyJump hops are resolved
//! through the same files (not `-o`, as ssh's own jump process does), and a first hop's own
//! ProxyJump is followed too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::algorithms::Lists;
use super::config_error::{ConfigError, MAX_JUMP_DEPTH};
use super::endpoint::{AgentSocket, Endpoint, HostKeyPolicy, Target};
use super::expand::{self, Tokens};
use super::jump::parse_jump;
use super::refuse::{self, Refusal};
use super::sshconf::{self, Settings, Sources};

/// Used when neither `--connect-timeout` nor `ConnectTimeout` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_PORT: u16 = 22;
/// ssh 9.2's default identity files, tried in this order when none is named (`-i`, IdentityFile).
/// Key types this build cannot use (RSA, DSA, security keys, XMSS) are skipped when present.
pub const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];
const DEFAULT_USER_KNOWN_HOSTS: &[&str] = &["~/.ssh/known_hosts", "~/.ssh/known_hosts2"];
const DEFAULT_GLOBAL_KNOWN_HOSTS: &[&str] =
    &["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];
/// Read after the user's file, unless `-F` names one.
pub const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// Command-line settings that win over the config.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `-F FILE` / `--ssh-config FILE`.
    pub config_file: Option<PathBuf>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub accept_new_host_key: bool,
    /// `-J HOST[,HOST]`.
    pub jump: Option<String>,
    /// `-o Key=Value`, in order.
    pub options: Vec<String>,
}

/// The local facts resolution depends on, injectable for tests.
#[derive(Clone, Debug)]
pub struct Environment {
    pub home: Option<PathBuf>,
    pub local_user: Option<String>,
    /// `/etc/ssh/ssh_config`.
    pub system_config: PathBuf,
}

impl Environment {
    /// The real home directory (`$HOME`), and the login name from the password database (as ssh
    /// does: `$USER` is unset under cron, systemd and many CI runners), else `$USER`/`$LOGNAME`.
    pub fn from_process() -> Self {
        let home = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf());
        let from_passwd = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|user| user.name);
        let local_user = from_passwd
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .filter(|user| !user.is_empty());
        Environment {
            home,
            local_user,
            system_config: PathBuf::from(SYSTEM_CONFIG),
        }
    }
}

/// A target with the settings it came from, for `ssh-config`.
#[derive(Debug)]
pub struct Resolved {
    pub target: Target,
    pub settings: Settings,
    /// What the native transport refuses; empty when it can connect.
    pub refusals: Vec<Refusal>,
}

/// Resolves `host_arg` (`[user@]host`) against the SSH config and the command line, refusing a
/// config the native transport cannot honour.
pub fn resolve(
    host_arg: &str,
    overrides: &Overrides,
    env: &Environment,
) -> Result<Target, ConfigError> {
    let resolved = inspect(host_arg, overrides, env)?;
    if resolved.refusals.is_empty() {
        Ok(resolved.target)
    } else {
        Err(ConfigError::Refused {
            host: resolved.target.label,
            refusals: resolved.refusals,
        })
    }
}

/// Resolves `host_arg` and lists what would be refused, without refusing.
pub fn inspect(
    host_arg: &str,
    overrides: &Overrides,
    env: &Environment,
) -> Result<Resolved, ConfigError> {
    let (arg_user, alias) = match host_arg.rsplit_once('@') {
        Some((user, host)) if !user.is_empty() => (Some(user.to_owned()), host.to_owned()),
        _ => (None, host_arg.to_owned()),
    };
    if alias.is_empty() {
        return Err(ConfigError::EmptyHost);
    }
    let resolver = Resolver { env, overrides };
    let mut command_line: Vec<String> = Vec::new();
    if let Some(jump) = &overrides.jump {
        command_line.push(format!("ProxyJump {jump}"));
    }
    command_line.extend(overrides.options.iter().cloned());
    let mut settings = resolver.read(&alias, &command_line)?;
    settings.evaluate_final_all();
    let mut refusals = refuse::refusals(&settings, &alias);
    let user = arg_user.or_else(|| overrides.user.clone());
    let mut endpoint = resolver.endpoint(&alias, &settings, user, overrides.port)?;
    if !overrides.identity_files.is_empty() {
        let mut files = overrides.identity_files.clone();
        if endpoint.explicit_identities {
            files.extend(endpoint.identity_files);
        }
        endpoint.identity_files = files;
        endpoint.explicit_identities = true;
    }
    let jumps = resolver.jumps(&alias, &settings, 0, &mut refusals)?;
    let connect_timeout = match (overrides.connect_timeout, settings.get("connecttimeout")) {
        (Some(timeout), _) => timeout,
        (None, Some(d)) if d.value().eq_ignore_ascii_case("none") => DEFAULT_CONNECT_TIMEOUT,
        (None, Some(d)) => match d.value().parse::<u64>() {
            Ok(0) => DEFAULT_CONNECT_TIMEOUT,
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => return Err(bad_value(d)),
        },
        (None, None) => DEFAULT_CONNECT_TIMEOUT,
    };
    Ok(Resolved {
        target: Target {
            label: alias,
            endpoint,
            jumps,
            connect_timeout,
        },
        settings,
        refusals,
    })
}

fn bad_value(directive: &sshconf::Directive) -> ConfigError {
    ConfigError::BadValue {
        origin: directive.origin.clone(),
        keyword: directive.keyword.clone(),
        value: directive.args.join(" "),
    }
}

/// `yes`/`true` → true, `no`/`false` → false, else a bad value.
fn flag(settings: &Settings, keyword: &str) -> Result<bool, ConfigError> {
    match settings.get(keyword) {
        None => Ok(false),
        Some(d) => match d.value().to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(true),
            "no" | "false" => Ok(false),
            _ => Err(bad_value(d)),
        },
    }
}

struct Resolver<'a> {
    env: &'a Environment,
    overrides: &'a Overrides,
}

impl Resolver<'_> {
    /// Reads the config files for `host`, with `command_line` (`-o`) lines first.
    fn read(&self, host: &str, command_line: &[String]) -> Result<Settings, ConfigError> {
        let default_user_file = self
            .env
            .home
            .as_ref()
            .map(|h| h.join(".ssh").join("config"));
        let user_file = match &self.overrides.config_file {
            Some(file) => Some(file.clone()),
            None => default_user_file.filter(|f| f.exists()),
        };
        let system_file = (self.overrides.config_file.is_none() && self.env.system_config.exists())
            .then_some(self.env.system_config.as_path());
        let sources = Sources {
            target: host,
            home: self.env.home.as_deref(),
            command_line,
            user_file: user_file.as_deref(),
            system_file,
        };
        Ok(sshconf::read(&sources)?)
    }

    /// The endpoint for `alias` given its `settings`, with `user`/`port` winning when set.
    fn endpoint(
        &self,
        alias: &str,
        settings: &Settings,
        user: Option<String>,
        port: Option<u16>,
    ) -> Result<Endpoint, ConfigError> {
        // ssh lowercases the host name once the config is read (addresses are unaffected).
        let host = settings.host_name(alias).to_lowercase();
        let local_user = self.env.local_user.clone();
        let user = user
            .or_else(|| settings.get("user").map(|d| d.value().to_owned()))
            .or(local_user.clone())
            .ok_or_else(|| ConfigError::NoUser {
                host: alias.to_owned(),
            })?;
        let port = match (port, settings.get("port")) {
            (Some(port), _) => port,
            (None, Some(d)) => d.value().parse().map_err(|_| bad_value(d))?,
            (None, None) => DEFAULT_PORT,
        };
        let tokens = Tokens {
            home: self.env.home.as_deref(),
            local_user: local_user.as_deref().unwrap_or_default(),
            host: &host,
            original_host: alias,
            port,
            user: &user,
        };
        let expand = |d: &sshconf::Directive, text: &str| {
            expand::expand(text, &tokens).map_err(|source| ConfigError::Expand {
                origin: d.origin.clone(),
                keyword: d.keyword.clone(),
                source,
            })
        };
        let explicit_identities = !settings.identity_files.is_empty();
        let identity_files = if explicit_identities {
            let files = settings.identity_files.iter();
            files
                .map(|d| expand(d, d.value()))
                .collect::<Result<_, _>>()?
        } else {
            let home = self.env.home.as_deref().ok_or(ConfigError::NoHome)?;
            DEFAULT_IDENTITY_FILES
                .iter()
                .map(|f| home.join(f.trim_start_matches("~/")))
                .collect()
        };
        let user_known_hosts = match settings.get("userknownhostsfile") {
            Some(d) => d
                .args
                .iter()
                .map(|f| expand(d, f))
                .collect::<Result<_, _>>()?,
            None => {
                let home = self.env.home.as_deref().ok_or(ConfigError::NoHome)?;
                default_files(home, DEFAULT_USER_KNOWN_HOSTS)
            }
        };
        let global_known_hosts = match settings.get("globalknownhostsfile") {
            Some(d) => d.args.iter().map(PathBuf::from).collect(),
            None => default_files(Path::new("/"), DEFAULT_GLOBAL_KNOWN_HOSTS),
        };
        let agent = match settings.get("identityagent") {
            None => AgentSocket::FromEnvironment,
            Some(d) if d.value() == "SSH_AUTH_SOCK" => AgentSocket::FromEnvironment,
            Some(d) if d.value().eq_ignore_ascii_case("none") => AgentSocket::Disabled,
            Some(d) => match d.value().strip_prefix('$') {
                Some(var) => std::env::var_os(var)
                    .map_or(AgentSocket::Disabled, |v| AgentSocket::Path(v.into())),
                None => AgentSocket::Path(expand(d, d.value())?),
            },
        };
        let host_key_policy = match settings.get("stricthostkeychecking") {
            _ if self.overrides.accept_new_host_key => HostKeyPolicy::AcceptNew,
            None => HostKeyPolicy::Strict,
            Some(d) => match d.value().to_ascii_lowercase().as_str() {
                "accept-new" | "no" | "false" | "off" => HostKeyPolicy::AcceptNew,
                "yes" | "true" | "ask" => HostKeyPolicy::Strict,
                _ => return Err(bad_value(d)),
            },
        };
        Ok(Endpoint {
            alias: alias.to_owned(),
            host,
            port,
            user,
            identity_files,
            explicit_identities,
            identities_only: flag(settings, "identitiesonly")?,
            agent,
            user_known_hosts,
            global_known_hosts,
            host_key_policy,
            hash_known_hosts: flag(settings, "hashknownhosts")?,
            batch_mode: flag(settings, "batchmode")?,
            algorithms: Lists::from_settings(settings),
        })
    }

    /// The hops in front of `alias`, outermost first; their refusals are added to `refusals`.
    fn jumps(
        &self,
        alias: &str,
        settings: &Settings,
        depth: usize,
        refusals: &mut Vec<Refusal>,
    ) -> Result<Vec<Endpoint>, ConfigError> {
        let Some(directive) = settings.get("proxyjump") else {
            return Ok(Vec::new());
        };
        if directive.value().eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        if depth >= MAX_JUMP_DEPTH {
            return Err(ConfigError::JumpLoop {
                host: alias.to_owned(),
            });
        }
        let mut hops = Vec::new();
        let specs = directive
            .value()
            .split(',')
            .filter(|s| !s.trim().is_empty());
        for (index, spec) in specs.enumerate() {
            let jump = parse_jump(spec.trim())?;
            // ssh runs `ssh -W` for each hop: the config files again (-F kept), without -o.
            let mut hop_settings = self.read(&jump.host, &[])?;
            hop_settings.evaluate_final_all();
            refusals.extend(refuse::refusals(&hop_settings, &jump.host));
            if index == 0 {
                hops.extend(self.jumps(&jump.host, &hop_settings, depth + 1, refusals)?);
            }
            hops.push(self.endpoint(&jump.host, &hop_settings, jump.user, jump.port)?);
        }
        Ok(hops)
    }
}

fn default_files(root: &Path, files: &[&str]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| root.join(f.trim_start_matches("~/").trim_start_matches('/')))
        .collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
