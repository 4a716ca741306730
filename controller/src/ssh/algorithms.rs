//! `Ciphers`, `MACs`, `KexAlgorithms`, `HostKeyAlgorithms` and `PubkeyAcceptedAlgorithms`, honoured
//! as ssh 9.2's `kex_assemble_names` reads them: `+list` appends to the defaults, `-list` removes
//! (patterns allowed), `^list` puts first, a plain list replaces; every entry may be a `*`/`?`
//! pattern, matched against the algorithms this build supports, and duplicates are dropped.
//!
//! The defaults are russh's, not ssh's: the negotiated algorithm is always one the list allows,
//! so a crypto policy (Fedora's `Match final all` around `/etc/crypto-policies`) is never
//! weakened. A list that leaves nothing this build supports is refused ([`Lists::empty`]).

use super::sshconf::Settings;
use crate::ssh::pattern;

/// The configured lists, raw (`None`: the defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lists {
    pub ciphers: Option<String>,
    pub macs: Option<String>,
    pub kex: Option<String>,
    pub host_keys: Option<String>,
    pub pubkey: Option<String>,
}

/// Assembles a list from `spec` over `defaults`, choosing among `supported` (names).
pub fn assemble<S: AsRef<str>>(spec: &str, defaults: &[S], supported: &[S]) -> Vec<String> {
    let wanted: Vec<String> = if let Some(extra) = spec.strip_prefix('+') {
        defaults
            .iter()
            .map(|s| s.as_ref().to_owned())
            .chain(split(extra))
            .collect()
    } else if let Some(removed) = spec.strip_prefix('-') {
        let removed: Vec<String> = split(removed).collect();
        defaults
            .iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|name| !removed.iter().any(|p| pattern::glob(p, name)))
            .collect()
    } else if let Some(first) = spec.strip_prefix('^') {
        split(first)
            .chain(defaults.iter().map(|s| s.as_ref().to_owned()))
            .collect()
    } else {
        split(spec).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for entry in &wanted {
        for name in supported.iter().map(AsRef::as_ref) {
            if pattern::glob(entry, name) && !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

fn split(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',').filter(|s| !s.is_empty()).map(str::to_owned)
}

impl Lists {
    /// The lists `settings` sets (`PubkeyAcceptedKeyTypes` is the old name).
    pub fn from_settings(settings: &Settings) -> Lists {
        let raw = |keyword: &str| settings.get(keyword).map(|d| d.value().to_owned());
        Lists {
            ciphers: raw("ciphers"),
            macs: raw("macs"),
            kex: raw("kexalgorithms"),
            host_keys: raw("hostkeyalgorithms"),
            pubkey: raw("pubkeyacceptedalgorithms").or_else(|| raw("pubkeyacceptedkeytypes")),
        }
    }

    /// The keywords whose list leaves no algorithm this build supports.
    pub fn empty(&self) -> Vec<&'static str> {
        let mut empty = Vec::new();
        let names = super::supported::supported_names();
        for (keyword, spec, defaults, supported) in [
            (
                "ciphers",
                &self.ciphers,
                &names.cipher_defaults,
                &names.ciphers,
            ),
            ("macs", &self.macs, &names.mac_defaults, &names.macs),
            ("kexalgorithms", &self.kex, &names.kex_defaults, &names.kex),
            (
                "hostkeyalgorithms",
                &self.host_keys,
                &names.key_defaults,
                &names.keys,
            ),
            (
                "pubkeyacceptedalgorithms",
                &self.pubkey,
                &names.key_defaults,
                &names.keys,
            ),
        ] {
            if let Some(spec) = spec
                && assemble(spec, defaults, supported).is_empty()
            {
                empty.push(keyword);
            }
        }
        empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &["a-gcm", "b-ctr", "c-cbc", "d-poly"];
    const DEFAULTS: &[&str] = &["d-poly", "a-gcm", "b-ctr"];

    #[test]
    fn algorithms_assemble_like_openssh() {
        assert_eq!(
            assemble("b-ctr,a-gcm,zz", DEFAULTS, ALL),
            ["b-ctr", "a-gcm"]
        );
        assert_eq!(
            assemble("+c-cbc", DEFAULTS, ALL),
            ["d-poly", "a-gcm", "b-ctr", "c-cbc"]
        );
        assert_eq!(assemble("-*-gcm,b-ctr", DEFAULTS, ALL), ["d-poly"]);
        assert_eq!(
            assemble("^b-ctr", DEFAULTS, ALL),
            ["b-ctr", "d-poly", "a-gcm"]
        );
        assert_eq!(assemble("*-c*", DEFAULTS, ALL), ["b-ctr", "c-cbc"]);
        assert!(assemble("nothing", DEFAULTS, ALL).is_empty());
    }
}

#[cfg(test)]
mod supported_tests {
    use super::*;

    #[test]
    fn algorithms_this_build_supports_include_the_modern_defaults() {
        let names = crate::ssh::supported::supported_names();
        assert!(
            names
                .ciphers
                .iter()
                .any(|n| n == "chacha20-poly1305@openssh.com")
        );
        assert!(names.kex.iter().any(|n| n == "curve25519-sha256"));
        assert!(
            names
                .macs
                .iter()
                .any(|n| n == "hmac-sha2-256-etm@openssh.com")
        );
        assert_eq!(names.keys.first().map(String::as_str), Some("ssh-ed25519"));
        assert!(!names.keys.iter().any(|n| n.contains("rsa")));
        let lists = Lists {
            ciphers: Some("3des-cbc".into()),
            macs: Some("-hmac-sha1*".into()),
            ..Lists::default()
        };
        assert_eq!(lists.empty(), ["ciphers"]);
    }
}
