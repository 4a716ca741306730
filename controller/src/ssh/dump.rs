//! `ssh-config HOST`: the settings the native transport resolved, in `ssh -G`'s format (lowercase
//! keys, one per line, values as ssh 9.2 prints them), for every directive it uses: [`ssh_g`].
//! The tests hold it against `ssh -G` itself over a corpus of configs; the algorithm lists are the
//! ones this build would offer, where ssh lists its own larger sets, so they are not compared.

use std::fmt::Write;
use std::path::PathBuf;

use super::algorithms::assemble;
use super::config::{DEFAULT_IDENTITY_FILES, Resolved};
use super::jump::parse_jump;

/// The lines `ssh -G` would print for these keys.
pub fn ssh_g(resolved: &Resolved) -> String {
    let target = &resolved.target;
    let endpoint = &target.endpoint;
    let settings = &resolved.settings;
    let value = |keyword: &str| {
        settings
            .get(keyword)
            .map(|d| d.value().to_ascii_lowercase())
    };
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(out, "{key} {value}");
    };
    line("host", &target.label);
    line("hostname", &endpoint.host);
    line("user", &endpoint.user);
    line("port", &endpoint.port.to_string());
    line("batchmode", yes_no(endpoint.batch_mode));
    let timeout = match settings.get("connecttimeout") {
        Some(d) => d.value().to_owned(),
        _ => "none".to_owned(),
    };
    line("connecttimeout", &timeout);
    line("hashknownhosts", yes_no(endpoint.hash_known_hosts));
    line("identitiesonly", yes_no(endpoint.identities_only));
    if let Some(agent) = settings.get("identityagent") {
        let shown = match &endpoint.agent {
            super::endpoint::AgentSocket::Path(path) => path.display().to_string(),
            _ => agent.value().to_owned(),
        };
        line("identityagent", &shown);
    }
    // ssh prints identity files as written (-i first), or its defaults.
    let mut identities: Vec<String> = Vec::new();
    for d in &settings.identity_files {
        identities.push(d.value().to_owned());
    }
    if identities.is_empty() {
        identities = DEFAULT_IDENTITY_FILES
            .iter()
            .map(|f| f.to_string())
            .collect();
    }
    for file in identities {
        line("identityfile", &file);
    }
    if let Some(jump) = settings
        .get("proxyjump")
        .filter(|d| !d.value().eq_ignore_ascii_case("none"))
    {
        line("proxyjump", &jump_text(jump.value()));
    }
    if let Some(command) = settings
        .get("proxycommand")
        .filter(|d| !d.value().eq_ignore_ascii_case("none"))
    {
        line("proxycommand", &command.args.join(" "));
    }
    // The algorithms this build would offer (ssh -G lists its own, larger sets: not compared).
    let names = super::supported::supported_names();
    let lists = &endpoint.algorithms;
    for (key, spec, defaults, supported) in [
        (
            "ciphers",
            &lists.ciphers,
            &names.cipher_defaults,
            &names.ciphers,
        ),
        (
            "hostkeyalgorithms",
            &lists.host_keys,
            &names.key_defaults,
            &names.keys,
        ),
        ("kexalgorithms", &lists.kex, &names.kex_defaults, &names.kex),
        ("macs", &lists.macs, &names.mac_defaults, &names.macs),
        (
            "pubkeyacceptedalgorithms",
            &lists.pubkey,
            &names.key_defaults,
            &names.keys,
        ),
    ] {
        let chosen = match spec {
            Some(spec) => assemble(spec, defaults, supported),
            None => defaults.clone(),
        };
        line(key, &chosen.join(","));
    }
    let strict = match value("stricthostkeychecking").as_deref() {
        Some("yes" | "true") => "true",
        Some("no" | "false" | "off") => "false",
        Some("accept-new") => "accept-new",
        _ => "ask",
    };
    line("stricthostkeychecking", strict);
    line("userknownhostsfile", &join(&endpoint.user_known_hosts));
    line("globalknownhostsfile", &join(&endpoint.global_known_hosts));
    out
}

/// ProxyJump as ssh prints it: the hops before the last as written, the last one parsed
/// (`ssh://` dropped, IPv6 bracketed).
fn jump_text(value: &str) -> String {
    let (before, last) = match value.rsplit_once(',') {
        Some((before, last)) => (Some(before), last),
        None => (None, value),
    };
    let last = match parse_jump(last.trim()) {
        Ok(jump) => {
            let user = jump.user.map(|u| format!("{u}@")).unwrap_or_default();
            let host = if jump.host.contains(':') {
                format!("[{}]", jump.host)
            } else {
                jump.host
            };
            let port = jump.port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{user}{host}{port}")
        }
        Err(_) => last.to_owned(),
    };
    match before {
        Some(before) => format!("{before},{last}"),
        None => last,
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn join(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(" ")
}
