//! The algorithms this build of russh supports and offers by default, by name: [`supported_names`].
//! Below `algorithms`, `connect`, `auth` and `dump`, which all choose among them.

use russh::keys::Algorithm;
use russh::{Preferred, cipher, kex, mac};

/// The algorithm names this build supports and uses by default, per kind.
#[derive(Debug)]
pub struct SupportedNames {
    pub ciphers: Vec<String>,
    pub cipher_defaults: Vec<String>,
    pub macs: Vec<String>,
    pub mac_defaults: Vec<String>,
    pub kex: Vec<String>,
    pub kex_defaults: Vec<String>,
    /// Host and user key types (RSA is not built in).
    pub keys: Vec<String>,
    pub key_defaults: Vec<String>,
}

/// What russh offers, by name.
pub fn supported_names() -> SupportedNames {
    fn names<N: AsRef<str>>(names: impl IntoIterator<Item = N>) -> Vec<String> {
        // "none"/"clear" and the kex extension markers are never choices.
        names
            .into_iter()
            .map(|n| n.as_ref().to_owned())
            .filter(|n| {
                !n.starts_with("ext-info")
                    && !n.starts_with("kex-strict")
                    && n != "none"
                    && n != "clear"
            })
            .collect()
    }
    let keys = names(
        Preferred::DEFAULT
            .key
            .iter()
            .filter(|a| !is_rsa(a))
            .map(|a| a.as_str().to_owned()),
    );
    SupportedNames {
        ciphers: names(cipher::ALL_CIPHERS.iter().map(|n| n.as_ref())),
        cipher_defaults: names(Preferred::DEFAULT.cipher.iter()),
        macs: names(mac::ALL_MAC_ALGORITHMS.iter().map(|n| n.as_ref())),
        mac_defaults: names(Preferred::DEFAULT.mac.iter()),
        kex: names(kex::ALL_KEX_ALGORITHMS.iter().map(|n| n.as_ref())),
        kex_defaults: names(Preferred::DEFAULT.kex.iter()),
        key_defaults: keys.clone(),
        keys,
    }
}

pub fn is_rsa(algorithm: &Algorithm) -> bool {
    matches!(algorithm, Algorithm::Rsa { .. })
}
