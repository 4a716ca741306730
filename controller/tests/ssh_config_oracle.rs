//! OpenSSH is the oracle: `backup-orchestrator-ctl ssh-config -F FILE HOST` must print what
//! `ssh -G -F FILE HOST` prints, for every key the native transport uses, over the corpus in
//! `tests/ssh_config_corpus/` (each `*.conf` names its hosts in a `# hosts:` line, and may give
//! extra command-line flags in an `# args:` line; `@DIR@` stands for the corpus directory).
//!
//! Needs the OpenSSH client (`ssh`); no network: `-G` only resolves.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// The keys `ssh-config` prints and `ssh -G` is compared on.
const KEYS: &[&str] = &[
    "host",
    "hostname",
    "user",
    "port",
    "batchmode",
    "connecttimeout",
    "hashknownhosts",
    "identitiesonly",
    "identityagent",
    "identityfile",
    "proxyjump",
    "proxycommand",
    "stricthostkeychecking",
    "userknownhostsfile",
    "globalknownhostsfile",
];

fn keyed(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in output.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if KEYS.contains(&key) {
            map.entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    map
}

fn copy_corpus(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_corpus(&entry.path(), &target);
        } else {
            let text = fs::read_to_string(entry.path()).unwrap();
            let dir = to.to_string_lossy();
            fs::write(&target, text.replace("@DIR@", dir.trim_end_matches('/'))).unwrap();
        }
    }
}

fn header<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {name}:")))
        .map(|rest| rest.split_whitespace().collect())
        .unwrap_or_default()
}

#[test]
fn ssh_config_prints_what_ssh_g_prints_over_the_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ssh_config_corpus");
    let dir = tempfile::tempdir().unwrap();
    copy_corpus(&corpus, dir.path());
    let mut configs: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    configs.sort();
    let mut cases = 0;
    let mut failures = Vec::new();
    for config in &configs {
        let text = fs::read_to_string(config).unwrap();
        let args = header(&text, "args");
        for host in header(&text, "hosts") {
            let ssh = Command::new("ssh")
                .arg("-G")
                .arg("-F")
                .arg(config)
                .args(&args)
                .arg(host)
                .output()
                .expect("the OpenSSH client (ssh) is needed for this test");
            assert!(
                ssh.status.success(),
                "ssh -G failed on {}: {}",
                config.display(),
                String::from_utf8_lossy(&ssh.stderr)
            );
            let ours = Command::new(env!("CARGO_BIN_EXE_backup-orchestrator-ctl"))
                .arg("ssh-config")
                .arg("-F")
                .arg(config)
                .args(&args)
                .arg(host)
                .output()
                .unwrap();
            assert!(
                ours.status.success(),
                "ssh-config failed on {} {host}: {}",
                config.display(),
                String::from_utf8_lossy(&ours.stderr)
            );
            let expected = keyed(&String::from_utf8_lossy(&ssh.stdout));
            let actual = keyed(&String::from_utf8_lossy(&ours.stdout));
            cases += 1;
            for key in KEYS {
                if expected.get(*key) != actual.get(*key) {
                    failures.push(format!(
                        "{} {host}: {key}: ssh -G {:?}, ours {:?}",
                        config.file_name().unwrap().to_string_lossy(),
                        expected.get(*key),
                        actual.get(*key)
                    ));
                }
            }
        }
    }
    assert!(cases >= 57, "the corpus shrank: {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ssh_config_exits_3_naming_what_the_native_transport_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    fs::write(
        &config,
        "Host h1\n    HostName 10.231.0.5\nMatch host 10.231.*\n    User lab\nHost *\n    ProxyCommand nc %h %p\n    ControlMaster auto\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_backup-orchestrator-ctl"))
        .arg("ssh-config")
        .arg("-F")
        .arg(&config)
        .arg("h1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hostname 10.231.0.5"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = config.display();
    for expected in [
        format!("{path}:3: Match host 10.231.*"),
        format!("{path}:6: proxycommand nc %h %p"),
        format!("{path}:7: controlmaster auto"),
        "--transport openssh".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} not in {stderr}");
    }
}
