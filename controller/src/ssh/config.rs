//! Host resolution: from the HOST the user typed (an ssh_config alias, a name or an address) to a
//! [`Target`]: the address, port and user actually connected to, the keys to try, the known_hosts
//! files and policy, the connect timeout and the ProxyJump hops in front of it.
//!
//! `~/.ssh/config` (or `--ssh-config FILE`) is read with ssh2-config, which handles `Host` patterns,
//! `Include` and first-value-wins like OpenSSH; the options it leaves unparsed (`IdentitiesOnly`,
//! `UserKnownHostsFile`, `GlobalKnownHostsFile`, `StrictHostKeyChecking`) are read from its
//! "unsupported fields". Precedence, highest first: `USER@HOST`, command-line flags, the config,
//! OpenSSH's defaults.
//!
//! `ProxyJump` hops are resolved through the same config (each hop's own HostName, User, Port,
//! IdentityFile and known_hosts), and a first hop's own ProxyJump is followed too, as OpenSSH does.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2_config::{HostParams, ParseRule, SshConfig};

/// Used when neither `--connect-timeout` nor `ConnectTimeout` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_PORT: u16 = 22;
/// Tried in order when neither `-i` nor `IdentityFile` names a key (RSA is not built in).
const DEFAULT_IDENTITY_FILES: &[&str] = &[".ssh/id_ed25519", ".ssh/id_ecdsa"];
const DEFAULT_GLOBAL_KNOWN_HOSTS: &str = "/etc/ssh/ssh_known_hosts";
/// ProxyJump chains deeper than this are taken for a loop in the config.
const MAX_JUMP_DEPTH: usize = 8;

/// Why the HOST or the SSH config could not be turned into a [`Target`] (exit 64).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the SSH config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse the SSH config {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("no user to log in as for {host}: pass -l USER or set User in the SSH config")]
    NoUser { host: String },
    #[error("the host name is empty")]
    EmptyHost,
    #[error("invalid port in {spec:?}")]
    BadPort { spec: String },
    #[error(
        "ProxyJump for {host} goes more than {MAX_JUMP_DEPTH} hops deep (a loop in the config?)"
    )]
    JumpLoop { host: String },
    #[error("no home directory to find ~/.ssh in; pass --ssh-config FILE")]
    NoHome,
}

/// What `StrictHostKeyChecking` (or `--accept-new-host-key`) allows for a key not yet known.
/// A changed key is refused under every policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys (`yes`, `ask`, and the default: no prompt here).
    Strict,
    /// Add unknown keys to the user's known_hosts file (`accept-new`, `no`, `off`,
    /// `--accept-new-host-key`).
    AcceptNew,
}

/// One SSH server to connect to: the target, or a ProxyJump hop in front of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// What the user (or the config's ProxyJump) called it, for messages.
    pub alias: String,
    /// The name or address actually connected to (HostName), also the known_hosts key.
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Private keys to try, in order (missing ones are skipped).
    pub identity_files: Vec<PathBuf>,
    /// Whether the identity files were named explicitly (`-i` or `IdentityFile`).
    pub explicit_identities: bool,
    /// `IdentitiesOnly yes`: with explicit identity files, the agent is not asked.
    pub identities_only: bool,
    /// `UserKnownHostsFile`: checked, and the first one receives accepted new keys.
    pub user_known_hosts: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`: checked only.
    pub global_known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
}

impl Endpoint {
    /// Whether the agent may offer its keys here.
    pub fn use_agent(&self) -> bool {
        !(self.identities_only && self.explicit_identities)
    }

    /// `user@host:port` as connected to.
    pub fn address(&self) -> String {
        format!("{}@{}", self.user, host_port(&self.host, self.port))
    }
}

/// `host:port`, bracketing IPv6 addresses.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Everything needed to reach the agent on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The HOST as typed (without `user@`), for messages and the `attach` hint.
    pub label: String,
    pub endpoint: Endpoint,
    /// Hops to go through first, outermost first.
    pub jumps: Vec<Endpoint>,
    /// Bound on TCP connect + handshake + authentication, for the whole chain.
    pub connect_timeout: Duration,
}

/// Command-line settings that win over the config.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub accept_new_host_key: bool,
}

/// The local facts resolution depends on, injectable for tests.
#[derive(Clone, Debug)]
pub struct Environment {
    pub home: Option<PathBuf>,
    pub local_user: Option<String>,
}

impl Environment {
    /// The real home directory and `$USER` (or `$LOGNAME`).
    pub fn from_process() -> Self {
        let home = directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_path_buf());
        let local_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|user| !user.is_empty());
        Environment { home, local_user }
    }
}

/// Resolves `host_arg` (`[user@]host`) against the SSH config and the command line.
pub fn resolve(
    host_arg: &str,
    overrides: &Overrides,
    env: &Environment,
) -> Result<Target, ConfigError> {
    let config = load_config(overrides.config_file.as_deref(), env)?;
    let (arg_user, alias) = match host_arg.rsplit_once('@') {
        Some((user, host)) if !user.is_empty() => (Some(user.to_owned()), host.to_owned()),
        _ => (None, host_arg.to_owned()),
    };
    if alias.is_empty() {
        return Err(ConfigError::EmptyHost);
    }
    let resolver = Resolver {
        config: &config,
        env,
        overrides,
    };
    let params = config.query(&alias);
    let user = arg_user.or_else(|| overrides.user.clone());
    let mut endpoint = resolver.endpoint(&alias, &params, user, overrides.port)?;
    if !overrides.identity_files.is_empty() {
        let mut files = overrides.identity_files.clone();
        if endpoint.explicit_identities {
            files.extend(endpoint.identity_files);
        }
        endpoint.identity_files = files;
        endpoint.explicit_identities = true;
    }
    let jumps = resolver.jumps(&alias, &params, 0)?;
    let connect_timeout = overrides
        .connect_timeout
        .or(params.connect_timeout)
        .filter(|timeout| !timeout.is_zero())
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    Ok(Target {
        label: alias,
        endpoint,
        jumps,
        connect_timeout,
    })
}

fn load_config(explicit: Option<&Path>, env: &Environment) -> Result<SshConfig, ConfigError> {
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => match &env.home {
            Some(home) => home.join(".ssh").join("config"),
            None => return Ok(SshConfig::default()),
        },
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SshConfig::default());
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let mut config = SshConfig::default();
    if let Some(home) = &env.home {
        config = config.home_dir(home);
    }
    config
        .parse(&mut BufReader::new(file), rules)
        .map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        })
}

struct Resolver<'a> {
    config: &'a SshConfig,
    env: &'a Environment,
    overrides: &'a Overrides,
}

impl Resolver<'_> {
    /// The endpoint for `alias` given its config `params`, with `user`/`port` winning when set.
    fn endpoint(
        &self,
        alias: &str,
        params: &HostParams,
        user: Option<String>,
        port: Option<u16>,
    ) -> Result<Endpoint, ConfigError> {
        let host = match &params.host_name {
            Some(name) => expand_host_name(name, alias),
            None => alias.to_owned(),
        };
        let user = user
            .or_else(|| params.user.clone())
            .or_else(|| self.env.local_user.clone())
            .ok_or_else(|| ConfigError::NoUser {
                host: alias.to_owned(),
            })?;
        let port = port.or(params.port).unwrap_or(DEFAULT_PORT);

        let configured: Vec<PathBuf> = params.identity_file.clone().unwrap_or_default();
        let explicit_identities = !configured.is_empty();
        let identity_files = if explicit_identities {
            configured
                .iter()
                .map(|p| self.expand_path(&p.to_string_lossy()))
                .collect()
        } else {
            match &self.env.home {
                Some(home) => DEFAULT_IDENTITY_FILES
                    .iter()
                    .map(|f| home.join(f))
                    .collect(),
                None => Vec::new(),
            }
        };
        let identities_only = yes_no(unsupported(params, "identitiesonly").and_then(|a| a.first()));

        let user_known_hosts = match unsupported(params, "userknownhostsfile") {
            Some(files) if !files.is_empty() => files.iter().map(|f| self.expand_path(f)).collect(),
            _ => vec![
                self.env
                    .home
                    .as_ref()
                    .ok_or(ConfigError::NoHome)?
                    .join(".ssh")
                    .join("known_hosts"),
            ],
        };
        let global_known_hosts = match unsupported(params, "globalknownhostsfile") {
            Some(files) if !files.is_empty() => files.iter().map(|f| self.expand_path(f)).collect(),
            _ => vec![PathBuf::from(DEFAULT_GLOBAL_KNOWN_HOSTS)],
        };
        let host_key_policy = if self.overrides.accept_new_host_key {
            HostKeyPolicy::AcceptNew
        } else {
            match unsupported(params, "stricthostkeychecking")
                .and_then(|a| a.first())
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                Some("accept-new" | "no" | "off") => HostKeyPolicy::AcceptNew,
                _ => HostKeyPolicy::Strict,
            }
        };
        Ok(Endpoint {
            alias: alias.to_owned(),
            host,
            port,
            user,
            identity_files,
            explicit_identities,
            identities_only,
            user_known_hosts,
            global_known_hosts,
            host_key_policy,
        })
    }

    /// The hops in front of `alias`, outermost first.
    fn jumps(
        &self,
        alias: &str,
        params: &HostParams,
        depth: usize,
    ) -> Result<Vec<Endpoint>, ConfigError> {
        let specs: Vec<&String> = match &params.proxy_jump {
            Some(list) => list.iter().filter(|s| !s.trim().is_empty()).collect(),
            None => return Ok(Vec::new()),
        };
        if specs.is_empty() || specs.iter().any(|s| s.trim().eq_ignore_ascii_case("none")) {
            return Ok(Vec::new());
        }
        if depth >= MAX_JUMP_DEPTH {
            return Err(ConfigError::JumpLoop {
                host: alias.to_owned(),
            });
        }
        let mut hops = Vec::new();
        for (index, spec) in specs.into_iter().enumerate() {
            let jump = parse_jump(spec.trim())?;
            let hop_params = self.config.query(&jump.host);
            if index == 0 {
                hops.extend(self.jumps(&jump.host, &hop_params, depth + 1)?);
            }
            hops.push(self.endpoint(&jump.host, &hop_params, jump.user, jump.port)?);
        }
        Ok(hops)
    }

    /// `~`, `%d` (home), `%u` (local user) and `%%` in a path from the config.
    fn expand_path(&self, raw: &str) -> PathBuf {
        let home = self
            .env
            .home
            .as_deref()
            .map(|h| h.to_string_lossy().into_owned());
        let mut text = raw.to_owned();
        if let Some(home) = &home {
            if text == "~" {
                text = home.clone();
            } else if let Some(rest) = text.strip_prefix("~/") {
                text = format!("{home}/{rest}");
            }
        }
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('d') if home.is_some() => out.push_str(home.as_deref().unwrap_or_default()),
                Some('u') if self.env.local_user.is_some() => {
                    out.push_str(self.env.local_user.as_deref().unwrap_or_default());
                }
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        PathBuf::from(out)
    }
}

/// `%h` (the alias) and `%%` in a HostName.
fn expand_host_name(name: &str, alias: &str) -> String {
    name.replace("%%", "\u{0}")
        .replace("%h", alias)
        .replace('\u{0}', "%")
}

fn unsupported<'p>(params: &'p HostParams, field: &str) -> Option<&'p Vec<String>> {
    params.unsupported_fields.get(field)
}

fn yes_no(value: Option<&String>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
}

/// One ProxyJump entry: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Debug, PartialEq, Eq)]
struct JumpSpec {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

fn parse_jump(spec: &str) -> Result<JumpSpec, ConfigError> {
    let rest = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, host_port) = match rest.rsplit_once('@') {
        Some((user, host)) => (Some(user.to_owned()), host),
        None => (None, rest),
    };
    let bad_port = || ConfigError::BadPort {
        spec: spec.to_owned(),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(bad_port)?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().map_err(|_| bad_port())?),
            None if after.is_empty() => None,
            None => return Err(bad_port()),
        };
        (host.to_owned(), port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port.parse().map_err(|_| bad_port())?)),
            None => (host_port.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(ConfigError::EmptyHost);
    }
    Ok(JumpSpec { user, host, port })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(config: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join(".ssh")).unwrap();
            fs::write(dir.path().join(".ssh/config"), config).unwrap();
            Fixture { dir }
        }

        fn home(&self) -> &Path {
            self.dir.path()
        }

        fn env(&self) -> Environment {
            Environment {
                home: Some(self.home().to_path_buf()),
                local_user: Some("alice".into()),
            }
        }

        fn resolve(&self, host: &str, overrides: &Overrides) -> Target {
            resolve(host, overrides, &self.env()).unwrap()
        }
    }

    const CONFIG: &str = "\
Host forge
    HostName 10.231.0.5
    User deploy
    Port 2222
    IdentityFile ~/.ssh/forge_key
    IdentitiesOnly yes
    UserKnownHostsFile ~/.ssh/known_hosts_lab
    StrictHostKeyChecking accept-new
    ConnectTimeout 4
    ProxyJump bastion,ops@relay:2200

Host bastion
    HostName bastion.example.net
    User jumper

Host *.lab
    HostName %h.internal
    User labuser

Host *
    ServerAliveInterval 30
";

    #[test]
    fn config_resolves_an_alias_to_host_name_user_port_and_identity() {
        let fx = Fixture::new(CONFIG);
        let target = fx.resolve("forge", &Overrides::default());
        let e = &target.endpoint;
        assert_eq!(target.label, "forge");
        assert_eq!(
            (e.host.as_str(), e.port, e.user.as_str()),
            ("10.231.0.5", 2222, "deploy")
        );
        assert_eq!(e.identity_files, vec![fx.home().join(".ssh/forge_key")]);
        assert!(e.explicit_identities && e.identities_only && !e.use_agent());
        assert_eq!(
            e.user_known_hosts,
            vec![fx.home().join(".ssh/known_hosts_lab")]
        );
        assert_eq!(
            e.global_known_hosts,
            vec![PathBuf::from("/etc/ssh/ssh_known_hosts")]
        );
        assert_eq!(e.host_key_policy, HostKeyPolicy::AcceptNew);
        assert_eq!(target.connect_timeout, Duration::from_secs(4));
    }

    #[test]
    fn config_resolves_proxy_jump_hops_through_the_config() {
        let fx = Fixture::new(CONFIG);
        let target = fx.resolve("forge", &Overrides::default());
        let hops: Vec<(String, u16, String)> = target
            .jumps
            .iter()
            .map(|e| (e.host.clone(), e.port, e.user.clone()))
            .collect();
        assert_eq!(
            hops,
            vec![
                ("bastion.example.net".to_owned(), 22, "jumper".to_owned()),
                ("relay".to_owned(), 2200, "ops".to_owned()),
            ]
        );
        // A hop has its own defaults, not the target's.
        assert_eq!(target.jumps[0].host_key_policy, HostKeyPolicy::Strict);
        assert_eq!(
            target.jumps[0].user_known_hosts,
            vec![fx.home().join(".ssh/known_hosts")]
        );
    }

    #[test]
    fn config_follows_the_first_hops_own_proxy_jump_and_refuses_loops() {
        let fx = Fixture::new(
            "Host inner\n  ProxyJump middle\nHost middle\n  ProxyJump outer\nHost loop\n  ProxyJump loop\n",
        );
        let target = fx.resolve("inner", &Overrides::default());
        let hops: Vec<&str> = target.jumps.iter().map(|e| e.host.as_str()).collect();
        assert_eq!(hops, ["outer", "middle"]);
        let error = resolve("loop", &Overrides::default(), &fx.env()).unwrap_err();
        assert!(matches!(error, ConfigError::JumpLoop { .. }), "{error}");
    }

    #[test]
    fn config_lets_command_line_flags_win() {
        let fx = Fixture::new(CONFIG);
        let overrides = Overrides {
            user: Some("root".into()),
            port: Some(22),
            identity_files: vec![PathBuf::from("/keys/ci")],
            connect_timeout: Some(Duration::from_secs(2)),
            accept_new_host_key: false,
            config_file: None,
        };
        let target = fx.resolve("forge", &overrides);
        assert_eq!(
            (target.endpoint.user.as_str(), target.endpoint.port),
            ("root", 22)
        );
        assert_eq!(
            target.endpoint.identity_files,
            vec![PathBuf::from("/keys/ci"), fx.home().join(".ssh/forge_key")]
        );
        assert_eq!(target.connect_timeout, Duration::from_secs(2));
        // USER@HOST wins over -l.
        assert_eq!(fx.resolve("ops@forge", &overrides).endpoint.user, "ops");
    }

    #[test]
    fn config_uses_openssh_defaults_for_an_unknown_host() {
        let fx = Fixture::new(CONFIG);
        let target = fx.resolve("10.231.7.7", &Overrides::default());
        let e = &target.endpoint;
        assert_eq!(
            (e.host.as_str(), e.port, e.user.as_str()),
            ("10.231.7.7", 22, "alice")
        );
        assert_eq!(
            e.identity_files,
            vec![
                fx.home().join(".ssh/id_ed25519"),
                fx.home().join(".ssh/id_ecdsa")
            ]
        );
        assert!(!e.explicit_identities && e.use_agent());
        assert_eq!(e.host_key_policy, HostKeyPolicy::Strict);
        assert!(target.jumps.is_empty());
        assert_eq!(target.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
    }

    #[test]
    fn config_expands_percent_h_in_host_name_for_wildcard_hosts() {
        let fx = Fixture::new(CONFIG);
        let target = fx.resolve("db.lab", &Overrides::default());
        assert_eq!(target.endpoint.host, "db.lab.internal");
        assert_eq!(target.endpoint.user, "labuser");
    }

    #[test]
    fn config_reads_included_files() {
        let fx = Fixture::new("Include conf.d/*.conf\nHost *\n  User fallback\n");
        fs::create_dir_all(fx.home().join(".ssh/conf.d")).unwrap();
        fs::write(
            fx.home().join(".ssh/conf.d/lab.conf"),
            "Host h1\n  HostName 10.231.1.2\n  User deploy\n  IdentityFile ~/lab/id_ed25519\n",
        )
        .unwrap();
        let target = fx.resolve("h1", &Overrides::default());
        assert_eq!(target.endpoint.host, "10.231.1.2");
        assert_eq!(target.endpoint.user, "deploy");
        assert_eq!(
            target.endpoint.identity_files,
            vec![fx.home().join("lab/id_ed25519")]
        );
    }

    #[test]
    fn config_from_an_explicit_file_and_accept_new_flag_wins_over_strict_config() {
        let fx = Fixture::new("");
        let file = fx.home().join("lab_config");
        fs::write(
            &file,
            "Host h2\n  HostName 10.231.1.3\n  StrictHostKeyChecking yes\n  UserKnownHostsFile /run/lab/known_hosts\n",
        )
        .unwrap();
        let mut overrides = Overrides {
            config_file: Some(file),
            ..Overrides::default()
        };
        let strict = fx.resolve("h2", &overrides);
        assert_eq!(strict.endpoint.host_key_policy, HostKeyPolicy::Strict);
        assert_eq!(
            strict.endpoint.user_known_hosts,
            vec![PathBuf::from("/run/lab/known_hosts")]
        );
        overrides.accept_new_host_key = true;
        assert_eq!(
            fx.resolve("h2", &overrides).endpoint.host_key_policy,
            HostKeyPolicy::AcceptNew
        );
    }

    #[test]
    fn config_reports_a_missing_explicit_file_and_a_missing_user() {
        let fx = Fixture::new("");
        let overrides = Overrides {
            config_file: Some(fx.home().join("nope")),
            ..Overrides::default()
        };
        assert!(matches!(
            resolve("x", &overrides, &fx.env()),
            Err(ConfigError::Read { .. })
        ));
        let env = Environment {
            home: Some(fx.home().to_path_buf()),
            local_user: None,
        };
        assert!(matches!(
            resolve("x", &Overrides::default(), &env),
            Err(ConfigError::NoUser { .. })
        ));
    }

    #[test]
    fn config_parses_jump_specs() {
        assert_eq!(
            parse_jump("ssh://u@[fe80::1]:2022").unwrap(),
            JumpSpec {
                user: Some("u".into()),
                host: "fe80::1".into(),
                port: Some(2022)
            }
        );
        assert_eq!(
            parse_jump("gw").unwrap(),
            JumpSpec {
                user: None,
                host: "gw".into(),
                port: None
            }
        );
        assert!(parse_jump("gw:http").is_err());
    }
}
