//! Resolution tests: the ssh_config reader and the target built from it.

use std::fs;

use super::*;
use crate::ssh::sshconf::ReadError;

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
            system_config: self.home().join("no_system_config"),
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
        vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2")
        ]
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
        vec![
            fx.home().join(".ssh/known_hosts"),
            fx.home().join(".ssh/known_hosts2")
        ]
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
        ..Overrides::default()
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
    assert_eq!(e.identity_files.len(), DEFAULT_IDENTITY_FILES.len());
    assert_eq!(e.identity_files[0], fx.home().join(".ssh/id_rsa"));
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
        local_user: None,
        ..fx.env()
    };
    assert!(matches!(
        resolve("x", &Overrides::default(), &env),
        Err(ConfigError::NoUser { .. })
    ));
}

fn refusal_lines(error: ConfigError) -> Vec<(String, usize)> {
    match error {
        ConfigError::Refused { refusals, .. } => refusals
            .into_iter()
            .map(|r| (r.directive, r.origin.line))
            .collect(),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn config_refuses_a_match_that_could_select_the_host_naming_its_line() {
    // The layout: ssh2-config filed these lines under `Host *`, for every host.
    let fx = Fixture::new(
        "Host *\n  User deploy\nMatch host *.lab\n  StrictHostKeyChecking no\n  UserKnownHostsFile ~/.ssh/known_hosts_lab\n",
    );
    let error = resolve("h1.lab", &Overrides::default(), &fx.env()).unwrap_err();
    assert!(error.is_refusal());
    let message = error.to_string();
    assert!(message.contains("--transport openssh"), "{message}");
    assert!(message.contains("config:3: Match host *.lab"), "{message}");
    // A Match host that cannot select the host is skipped with its lines.
    let target = fx.resolve("prod", &Overrides::default());
    assert_eq!(target.endpoint.host_key_policy, HostKeyPolicy::Strict);
}

#[test]
fn config_compares_match_host_with_the_host_name_set_so_far() {
    let fx = Fixture::new(
        "Host app\n  HostName app.lab\nMatch host *.lab\n  User lab\nHost other\n  HostName other.lab\nMatch exec true\n  User never\n",
    );
    assert_eq!(
        refusal_lines(resolve("app", &Overrides::default(), &fx.env()).unwrap_err()),
        [
            ("Match host *.lab".to_owned(), 3),
            ("Match exec true".to_owned(), 7)
        ]
    );
    // For `other`, HostName is set after the Match: it is skipped, but `exec` is undecidable.
    assert_eq!(
        refusal_lines(resolve("other", &Overrides::default(), &fx.env()).unwrap_err()),
        [("Match exec true".to_owned(), 7)]
    );
}

#[test]
fn config_skips_a_match_that_sets_only_ignored_directives() {
    let fx = Fixture::new("Match all\n  SendEnv LANG\n  ServerAliveInterval 30\n");
    assert!(resolve("x", &Overrides::default(), &fx.env()).is_ok());
}

#[test]
fn config_refuses_directives_it_does_not_implement_only_where_they_apply() {
    let fx = Fixture::new(
        "Host jump\n  ProxyCommand nc %h %p\nHost plain\n  ProxyCommand none\n  ControlMaster no\n  ControlPath none\nHost *\n  ProxyCommand nc other\n  CheckHostIP yes\n  AddKeysToAgent yes\n",
    );
    assert_eq!(
        refusal_lines(resolve("jump", &Overrides::default(), &fx.env()).unwrap_err()),
        [
            ("proxycommand nc %h %p".to_owned(), 2),
            ("checkhostip yes".to_owned(), 9)
        ]
    );
    assert_eq!(
        refusal_lines(resolve("plain", &Overrides::default(), &fx.env()).unwrap_err()),
        [("checkhostip yes".to_owned(), 9)]
    );
    let ok = Overrides {
        options: vec!["CheckHostIP=no".into()],
        ..Overrides::default()
    };
    assert!(resolve("plain", &ok, &fx.env()).is_ok());
}

#[test]
fn config_includes_inside_a_host_block_only_when_it_matched() {
    let fx = Fixture::new("Host h3\n  Include extra.conf\nHost *\n  User outer\n");
    fs::write(
        fx.home().join(".ssh/extra.conf"),
        "User inner\nHost *\n  Port 2003\n",
    )
    .unwrap();
    let h3 = fx.resolve("h3", &Overrides::default());
    assert_eq!(
        (h3.endpoint.user.as_str(), h3.endpoint.port),
        ("inner", 2003)
    );
    let other = fx.resolve("h4", &Overrides::default());
    assert_eq!(
        (other.endpoint.user.as_str(), other.endpoint.port),
        ("outer", 22)
    );
}

#[test]
fn config_reads_the_system_file_after_the_users_unless_dash_f() {
    let fx = Fixture::new("Host *\n  User mine\n");
    let system = fx.home().join("system_config");
    fs::write(
        &system,
        "Host *\n  User system\n  Port 2022\n  Include rel.conf\n",
    )
    .unwrap();
    let env = Environment {
        system_config: system,
        ..fx.env()
    };
    // A relative Include in the system file is under /etc/ssh (absent here: no match, no error).
    let target = resolve("x", &Overrides::default(), &env).unwrap();
    assert_eq!(
        (target.endpoint.user.as_str(), target.endpoint.port),
        ("mine", 2022)
    );
    let explicit = Overrides {
        config_file: Some(fx.home().join(".ssh/config")),
        ..Overrides::default()
    };
    assert_eq!(resolve("x", &explicit, &env).unwrap().endpoint.port, 22);
}

#[test]
fn config_refuses_unknown_keywords_unless_ignore_unknown_names_them() {
    let fx = Fixture::new("Host *\n  UseKeychain yes\n");
    let error = resolve("x", &Overrides::default(), &fx.env()).unwrap_err();
    assert!(
        matches!(error, ConfigError::Read(ReadError::UnknownKeyword { .. })),
        "{error}"
    );
    let fx = Fixture::new("IgnoreUnknown UseKeychain,Foo*\nHost *\n  UseKeychain yes\n");
    assert!(resolve("x", &Overrides::default(), &fx.env()).is_ok());
}

#[test]
fn config_lets_dash_o_and_dash_j_win_and_honours_identity_agent() {
    let fx = Fixture::new(
        "Host forge\n  User config\n  ProxyJump config-hop\n  IdentityAgent ~/agent.sock\n",
    );
    let overrides = Overrides {
        options: vec!["User=cli".into(), "IdentityAgent none".into()],
        jump: Some("cli-hop".into()),
        ..Overrides::default()
    };
    let target = fx.resolve("forge", &overrides);
    assert_eq!(target.endpoint.user, "cli");
    assert_eq!(target.endpoint.agent, AgentSocket::Disabled);
    assert_eq!(target.jumps[0].host, "cli-hop");
    let plain = fx.resolve("forge", &Overrides::default());
    assert_eq!(
        plain.endpoint.agent,
        AgentSocket::Path(fx.home().join("agent.sock"))
    );
}

#[test]
fn config_refuses_a_skipped_match_host_that_the_final_pass_would_select() {
    // ssh's `Match final` pass compares `Match host` with the final HostName, set after it here.
    let fx = Fixture::new(
        "Match host *.lab\n  User lab\nHost app\n  HostName app.lab\nMatch final all\n  SendEnv LANG\n",
    );
    assert_eq!(
        refusal_lines(resolve("app", &Overrides::default(), &fx.env()).unwrap_err()),
        [("Match host *.lab".to_owned(), 1)]
    );
    let fx = Fixture::new("Match host *.lab\n  User lab\nHost app\n  HostName app.lab\n");
    assert!(resolve("app", &Overrides::default(), &fx.env()).is_ok());
}

#[test]
fn config_evaluates_a_crypto_policy_match_final_all_and_refuses_an_unusable_list() {
    // Fedora's layout: the system file includes the crypto policy under `Match final all`.
    let fx = Fixture::new("Host forge\n  Ciphers aes256-gcm@openssh.com\n");
    let system = fx.home().join("ssh_config");
    fs::write(
        &system,
        "Match final all\n  Include /POLICY\n  GSSAPIAuthentication yes\n".replace(
            "/POLICY",
            &fx.home().join("policy.config").display().to_string(),
        ),
    )
    .unwrap();
    fs::write(
        fx.home().join("policy.config"),
        "Ciphers aes128-ctr\nMACs hmac-sha2-256-etm@openssh.com\nKexAlgorithms curve25519-sha256,ecdh-sha2-nistp256\nPubkeyAcceptedAlgorithms ssh-ed25519,ecdsa-sha2-nistp256\n",
    )
    .unwrap();
    let env = Environment {
        system_config: system,
        ..fx.env()
    };
    let target = resolve("forge", &Overrides::default(), &env).unwrap();
    let lists = &target.endpoint.algorithms;
    // First value wins: the user's Ciphers, then the policy fills what is unset.
    assert_eq!(lists.ciphers.as_deref(), Some("aes256-gcm@openssh.com"));
    assert_eq!(lists.macs.as_deref(), Some("hmac-sha2-256-etm@openssh.com"));
    assert_eq!(
        lists.pubkey.as_deref(),
        Some("ssh-ed25519,ecdsa-sha2-nistp256")
    );
    let unusable = Overrides {
        options: vec!["Ciphers=3des-cbc".into()],
        ..Overrides::default()
    };
    let refused = refusal_lines(resolve("forge", &unusable, &env).unwrap_err());
    assert_eq!(refused.len(), 1);
    assert!(refused[0].0.starts_with("ciphers 3des-cbc"), "{refused:?}");
}
