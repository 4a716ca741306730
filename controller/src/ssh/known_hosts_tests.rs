//! known_hosts checks: lookups, policies and what gets recorded.

use super::*;

const ED_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDTpXwsCoHxhOYursWnoIwijukQ+/yU/yoA7PqPneUGw";
const ED_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9OuL9Ebd/c/QGZGDA0AR445TegDbMkxuZZwGDUSYQf";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPvjtxBh7lnkYy3jL85ft1Ztbxo6nznd0JKpu5sAx6DnDFPYo1iF57x/ekTWutYl74r5xQkF/vg/9oi8bHmweqQ=";

fn key(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).unwrap()
}

fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn check(path: &Path, host: &str, port: u16, policy: HostKeyPolicy) -> HostKeyCheck {
    HostKeyCheck {
        alias: "forge".into(),
        host: host.into(),
        port,
        user_files: vec![path.to_path_buf()],
        global_files: vec![],
        policy,
        hash: false,
    }
}

#[test]
fn known_hosts_matches_a_listed_key_after_comments_and_blank_lines() {
    let (_dir, path) = file_with(&format!(
        "# lab hosts\n\nother {ED_B}\n10.231.0.5\t{ED_A} root@forge\n"
    ));
    assert_eq!(
        lookup_key("10.231.0.5", 22, &key(ED_A), [&path]),
        Lookup::Known {
            path: path.clone(),
            line: 4
        }
    );
}

#[test]
fn known_hosts_reports_a_changed_key_with_its_line_number() {
    let (_dir, path) = file_with(&format!("# header\n# more\nforge,10.231.0.5 {ED_B}\n"));
    let error = verify(
        &check(&path, "10.231.0.5", 22, HostKeyPolicy::AcceptNew),
        &key(ED_A),
    )
    .unwrap_err();
    match &*error {
        HostKeyError::Changed { line, path: p, .. } => assert_eq!((*line, p), (3, &path)),
        other => panic!("expected a changed key, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&format!("{}:3", path.display())),
        "{message}"
    );
    assert!(message.contains("SHA256:"), "{message}");
    // The file is left alone.
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3);
}

#[test]
fn known_hosts_refuses_an_unknown_key_with_its_fingerprint_and_how_to_accept_it() {
    let (_dir, path) = file_with(&format!("other {ED_A}\n"));
    let error = verify(
        &check(&path, "10.231.0.5", 22, HostKeyPolicy::Strict),
        &key(ED_A),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(*error, HostKeyError::Unknown { .. }));
    let fingerprint = key(ED_A).fingerprint(HashAlg::Sha256).to_string();
    assert!(message.contains(&fingerprint), "{message}");
    assert!(message.contains("--accept-new-host-key"), "{message}");
    assert!(
        message.contains("ssh-keyscan -p 22 -t ssh-ed25519 10.231.0.5"),
        "{message}"
    );
}

#[test]
fn known_hosts_treats_a_key_of_another_type_as_unknown_not_changed() {
    let (_dir, path) = file_with(&format!("forge {ECDSA}\n"));
    assert_eq!(
        lookup_key("forge", 22, &key(ED_A), [&path]),
        Lookup::Unknown
    );
    assert_eq!(
        known_algorithms("forge", 22, [&path]),
        vec![Algorithm::Ecdsa {
            curve: russh::keys::EcdsaCurve::NistP256
        }]
    );
}

#[test]
fn known_hosts_uses_the_bracketed_form_off_port_22() {
    let (_dir, path) = file_with(&format!("[10.231.0.5]:2222 {ED_A}\n10.231.0.5 {ED_B}\n"));
    assert_eq!(
        lookup_key("10.231.0.5", 2222, &key(ED_A), [&path]),
        Lookup::Known {
            path: path.clone(),
            line: 1
        }
    );
    // On port 22 the bare entry applies, and it lists another key.
    assert_eq!(
        lookup_key("10.231.0.5", 22, &key(ED_A), [&path]),
        Lookup::Changed {
            path: path.clone(),
            line: 2
        }
    );
    // On another port neither applies to the lookup itself…
    assert_eq!(
        lookup_key("10.231.0.5", 2200, &key(ED_A), [&path]),
        Lookup::Unknown
    );
    // …but verify accepts the key under the plain name, as ssh does off port 22.
    let c = check(&path, "10.231.0.5", 2200, HostKeyPolicy::Strict);
    assert_eq!(
        verify(&c, &key(ED_B)).unwrap(),
        Verified::Known {
            path: path.clone(),
            line: 2
        }
    );
}

#[test]
fn known_hosts_matches_wildcards_negations_and_hashed_names() {
    let (_dir, path) = file_with(&format!(
        "*.lab,!db.lab {ED_A}\n|1|AAECAwQFBgcICQoLDA0ODxAREhM=|VABW/swdBkyrjlPVEv2j1at0yDU= {ED_B}\n"
    ));
    assert!(matches!(
        lookup_key("h1.lab", 22, &key(ED_A), [&path]),
        Lookup::Known { .. }
    ));
    assert_eq!(
        lookup_key("db.lab", 22, &key(ED_A), [&path]),
        Lookup::Unknown
    );
    // The hashed entry is HMAC-SHA1 of "192.168.1.61" with salt 00..13.
    assert!(hashed_match(
        "AAECAwQFBgcICQoLDA0ODxAREhM=|VABW/swdBkyrjlPVEv2j1at0yDU=",
        "192.168.1.61"
    ));
    assert!(!hashed_match(
        "AAECAwQFBgcICQoLDA0ODxAREhM=|VABW/swdBkyrjlPVEv2j1at0yDU=",
        "192.168.1.62"
    ));
}

#[test]
fn known_hosts_refuses_a_revoked_key_even_when_also_listed() {
    let (_dir, path) = file_with(&format!("forge {ED_A}\n@revoked * {ED_A}\n"));
    assert_eq!(
        lookup_key("forge", 22, &key(ED_A), [&path]),
        Lookup::Revoked {
            path: path.clone(),
            line: 2
        }
    );
}

#[test]
fn known_hosts_checks_the_global_file_too() {
    let (_dir, user) = file_with("");
    let (_dir2, global) = file_with(&format!("forge {ED_A}\n"));
    let mut c = check(&user, "forge", 22, HostKeyPolicy::Strict);
    c.global_files = vec![global.clone()];
    assert_eq!(
        verify(&c, &key(ED_A)).unwrap(),
        Verified::Known {
            path: global,
            line: 1
        }
    );
}

#[test]
fn known_hosts_appends_a_new_key_under_accept_new_and_then_knows_it() {
    let (dir, _) = file_with("");
    let path = dir.path().join("sub/known_hosts");
    let c = check(&path, "10.231.0.5", 2222, HostKeyPolicy::AcceptNew);
    assert_eq!(
        verify(&c, &key(ED_A)).unwrap(),
        Verified::Learned { path: path.clone() }
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("[10.231.0.5]:2222 ssh-ed25519 AAAA"),
        "{text}"
    );
    assert_eq!(
        verify(&c, &key(ED_A)).unwrap(),
        Verified::Known { path, line: 1 }
    );
}

#[test]
fn known_hosts_refuses_a_new_type_when_another_is_known_even_under_accept_new() {
    let (_dir, path) = file_with(&format!("# lab\nforge {ECDSA}\n"));
    let error = verify(
        &check(&path, "forge", 22, HostKeyPolicy::AcceptNew),
        &key(ED_A),
    )
    .unwrap_err();
    match &*error {
        HostKeyError::OtherTypeKnown {
            line,
            known_algorithm,
            ..
        } => {
            assert_eq!(
                (*line, known_algorithm.as_str()),
                (2, "ecdsa-sha2-nistp256")
            );
        }
        other => panic!("expected another type known, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 2);
}

#[test]
fn known_hosts_records_a_hashed_name_with_hash_known_hosts_and_matches_it_next_time() {
    let (dir, _) = file_with("");
    let path = dir.path().join("new/.ssh/known_hosts");
    let mut c = check(&path, "10.231.0.5", 22, HostKeyPolicy::AcceptNew);
    c.hash = true;
    verify(&c, &key(ED_A)).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("10.231.0.5"),
        "{text}"
    );
    assert_eq!(
        verify(&c, &key(ED_A)).unwrap(),
        Verified::Known {
            path: path.clone(),
            line: 1
        }
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[test]
fn known_hosts_accepts_dev_null_as_the_user_file() {
    let c = check(
        Path::new("/dev/null"),
        "forge",
        22,
        HostKeyPolicy::AcceptNew,
    );
    assert_eq!(
        verify(&c, &key(ED_A)).unwrap(),
        Verified::Learned {
            path: PathBuf::from("/dev/null")
        }
    );
}
