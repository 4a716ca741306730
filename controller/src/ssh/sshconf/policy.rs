//! What the native transport does with each ssh_config keyword of OpenSSH 9.2 ([`classify`]):
//! uses it, ignores it (with a debug line), or refuses it when its value would make ssh behave
//! differently from what the native transport can do: a different route to the host, other host
//! keys or algorithms trusted, other credentials. A refusal names the directive, its file:line and
//! the way out, `--transport openssh`: never weaker than OpenSSH without a word.
//!
//! Ignored on purpose, because not doing them cannot weaken a check or change where we connect:
//! forwardings and tunnels (`LocalForward`, `RemoteForward`, `DynamicForward`, `Tunnel`,
//! `ForwardAgent`, `ForwardX11`…), session features (`RequestTTY`, `RemoteCommand`, `SendEnv`,
//! `SetEnv`, `LocalCommand`, `EscapeChar`…), other authentication methods (`GSSAPI*`,
//! `PasswordAuthentication`, `KbdInteractiveAuthentication`, `HostbasedAuthentication`), logging,
//! keepalives (the controller has its own), `UpdateHostKeys` (no extra keys are learned),
//! `NoHostAuthenticationForLocalhost` (localhost is checked all the same: stricter) and
//! `CASignatureAlgorithms` (host certificates are refused anyway).

/// The native transport's answer to one keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `Host`, `Match`, `Include`: handled by the reader.
    Structure,
    /// Resolved and honoured.
    Used,
    /// No effect on security or routing here.
    Ignored,
    /// Refused whenever it applies to the host.
    Refused,
    /// Refused unless its value is this (case-insensitive), the "off" value.
    RefusedUnless(&'static [&'static str]),
}

const NO: &[&str] = &["no", "false"];
const NONE: &[&str] = &["none"];

/// Every keyword ssh 9.2 (with Debian's GSSAPI patch) accepts, sorted.
const KEYWORDS: &[(&str, Class)] = &[
    ("addkeystoagent", Class::Ignored),
    ("addressfamily", Class::RefusedUnless(&["any"])),
    ("batchmode", Class::Used),
    ("bindaddress", Class::Refused),
    ("bindinterface", Class::Refused),
    ("canonicaldomains", Class::Ignored),
    ("canonicalizefallbacklocal", Class::Ignored),
    ("canonicalizehostname", Class::RefusedUnless(NO)),
    ("canonicalizemaxdots", Class::Ignored),
    ("canonicalizepermittedcnames", Class::Ignored),
    ("casignaturealgorithms", Class::Ignored),
    ("certificatefile", Class::Refused),
    ("challengeresponseauthentication", Class::Ignored),
    ("checkhostip", Class::RefusedUnless(NO)),
    ("cipher", Class::Ignored),
    ("ciphers", Class::Used),
    ("clearallforwardings", Class::Ignored),
    ("compression", Class::Ignored),
    ("compressionlevel", Class::Ignored),
    ("connectionattempts", Class::Ignored),
    ("connecttimeout", Class::Used),
    ("controlmaster", Class::RefusedUnless(NO)),
    ("controlpath", Class::RefusedUnless(NONE)),
    ("controlpersist", Class::RefusedUnless(NO)),
    ("dsaauthentication", Class::Ignored),
    ("dynamicforward", Class::Ignored),
    ("enableescapecommandline", Class::Ignored),
    ("enablesshkeysign", Class::Ignored),
    ("escapechar", Class::Ignored),
    ("exitonforwardfailure", Class::Ignored),
    ("fallbacktorsh", Class::Ignored),
    ("fingerprinthash", Class::Ignored),
    ("forkafterauthentication", Class::Ignored),
    ("forwardagent", Class::Ignored),
    ("forwardx11", Class::Ignored),
    ("forwardx11timeout", Class::Ignored),
    ("forwardx11trusted", Class::Ignored),
    ("gatewayports", Class::Ignored),
    ("globalknownhostsfile", Class::Used),
    ("gssapiauthentication", Class::Ignored),
    ("gssapiclientidentity", Class::Ignored),
    ("gssapidelegatecredentials", Class::Ignored),
    ("gssapikexalgorithms", Class::Ignored),
    ("gssapikeyexchange", Class::Ignored),
    ("gssapirenewalforcesrekey", Class::Ignored),
    ("gssapiserveridentity", Class::Ignored),
    ("gssapitrustdns", Class::Ignored),
    ("hashknownhosts", Class::Used),
    ("host", Class::Structure),
    ("hostbasedacceptedalgorithms", Class::Ignored),
    ("hostbasedauthentication", Class::Ignored),
    ("hostbasedkeytypes", Class::Ignored),
    ("hostkeyalgorithms", Class::Used),
    ("hostkeyalias", Class::Refused),
    ("hostname", Class::Used),
    ("identitiesonly", Class::Used),
    ("identityagent", Class::Used),
    ("identityfile", Class::Used),
    ("ignoreunknown", Class::Used),
    ("include", Class::Structure),
    ("ipqos", Class::Ignored),
    ("kbdinteractiveauthentication", Class::Ignored),
    ("kbdinteractivedevices", Class::Ignored),
    ("kexalgorithms", Class::Used),
    ("knownhostscommand", Class::RefusedUnless(NONE)),
    ("localcommand", Class::Ignored),
    ("localforward", Class::Ignored),
    ("loglevel", Class::Ignored),
    ("logverbose", Class::Ignored),
    ("macs", Class::Used),
    ("match", Class::Structure),
    ("nohostauthenticationforlocalhost", Class::Ignored),
    ("numberofpasswordprompts", Class::Ignored),
    ("passwordauthentication", Class::Ignored),
    ("permitlocalcommand", Class::Ignored),
    ("permitremoteopen", Class::Ignored),
    ("pkcs11provider", Class::RefusedUnless(NONE)),
    ("port", Class::Used),
    ("preferredauthentications", Class::Used),
    ("protocol", Class::Ignored),
    ("proxycommand", Class::RefusedUnless(NONE)),
    ("proxyjump", Class::Used),
    ("proxyusefdpass", Class::Ignored),
    ("pubkeyacceptedalgorithms", Class::Used),
    ("pubkeyacceptedkeytypes", Class::Used),
    (
        "pubkeyauthentication",
        Class::RefusedUnless(&["yes", "true", "unbound", "host-bound"]),
    ),
    ("rekeylimit", Class::Ignored),
    ("remotecommand", Class::Ignored),
    ("remoteforward", Class::Ignored),
    ("requesttty", Class::Ignored),
    ("requiredrsasize", Class::Ignored),
    ("revokedhostkeys", Class::RefusedUnless(NONE)),
    ("rhostsrsaauthentication", Class::Ignored),
    ("rsaauthentication", Class::Ignored),
    ("securitykeyprovider", Class::RefusedUnless(&["internal"])),
    ("sendenv", Class::Ignored),
    ("serveralivecountmax", Class::Ignored),
    ("serveraliveinterval", Class::Ignored),
    ("sessiontype", Class::Ignored),
    ("setenv", Class::Ignored),
    ("smartcarddevice", Class::RefusedUnless(NONE)),
    ("stdinnull", Class::Ignored),
    ("streamlocalbindmask", Class::Ignored),
    ("streamlocalbindunlink", Class::Ignored),
    ("stricthostkeychecking", Class::Used),
    ("syslogfacility", Class::Ignored),
    ("tcpkeepalive", Class::Ignored),
    ("tunnel", Class::Ignored),
    ("tunneldevice", Class::Ignored),
    ("updatehostkeys", Class::Ignored),
    ("useprivilegedport", Class::Ignored),
    ("user", Class::Used),
    ("userknownhostsfile", Class::Used),
    ("useroaming", Class::Ignored),
    ("verifyhostkeydns", Class::RefusedUnless(NO)),
    ("visualhostkey", Class::Ignored),
    ("xauthlocation", Class::Ignored),
];

/// How the native transport treats `keyword` (lowercase); `None` for a keyword ssh 9.2 does not
/// know (ssh then refuses the whole config unless `IgnoreUnknown` lists it).
pub fn classify(keyword: &str) -> Option<Class> {
    KEYWORDS
        .binary_search_by(|(known, _)| known.cmp(&keyword))
        .ok()
        .map(|index| KEYWORDS[index].1)
}

/// Whether a directive of class `class` with these arguments is refused.
pub fn refuses(class: Class, args: &[String]) -> bool {
    match class {
        Class::Refused => true,
        Class::RefusedUnless(allowed) => !args
            .first()
            .is_some_and(|value| allowed.iter().any(|a| a.eq_ignore_ascii_case(value))),
        Class::Structure | Class::Used | Class::Ignored => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table_is_sorted_so_lookups_find_every_keyword() {
        assert!(KEYWORDS.windows(2).all(|w| w[0].0 < w[1].0));
        for (keyword, class) in KEYWORDS {
            assert_eq!(classify(keyword), Some(*class));
        }
        assert_eq!(classify("usekeychain"), None);
    }

    #[test]
    fn policy_refuses_only_values_that_change_behaviour() {
        let args = |v: &str| vec![v.to_owned()];
        let control = classify("controlmaster").unwrap();
        assert!(!refuses(control, &args("no")));
        assert!(refuses(control, &args("auto")));
        assert!(!refuses(classify("proxycommand").unwrap(), &args("NONE")));
        assert!(refuses(
            classify("proxycommand").unwrap(),
            &args("nc %h %p")
        ));
        assert!(refuses(classify("hostkeyalias").unwrap(), &args("x")));
        assert!(!refuses(classify("sendenv").unwrap(), &args("LANG")));
        assert!(refuses(
            classify("pubkeyauthentication").unwrap(),
            &args("no")
        ));
    }
}
