//! `~` and `%` tokens in ssh_config paths, as OpenSSH 9.2 expands them for `IdentityFile`,
//! `UserKnownHostsFile` and `IdentityAgent` (`DEFAULT_CLIENT_PERCENT_EXPAND_ARGS`): [`expand`].

use std::path::{Path, PathBuf};

/// The values the tokens stand for.
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    /// `%d`, and `~`.
    pub home: Option<&'a Path>,
    /// `%u`.
    pub local_user: &'a str,
    /// `%h`: the HostName.
    pub host: &'a str,
    /// `%n`: the host as typed.
    pub original_host: &'a str,
    /// `%p`.
    pub port: u16,
    /// `%r`.
    pub user: &'a str,
}

/// A token this build does not expand (ssh would), or `~` without a home.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot expand %{token} in {text:?} (supported: %d %h %n %p %r %u %i %%, and ~)")]
pub struct ExpandError {
    pub token: char,
    pub text: String,
}

/// Expands a leading `~` or `~/` and the `%` tokens of `text`.
pub fn expand(text: &str, tokens: &Tokens<'_>) -> Result<PathBuf, ExpandError> {
    let home = tokens.home.map(|h| h.to_string_lossy().into_owned());
    let mut out = String::new();
    let mut rest = text;
    if let Some(home) = &home {
        if rest == "~" {
            return Ok(PathBuf::from(home));
        }
        if let Some(after) = rest.strip_prefix("~/") {
            out.push_str(home);
            out.push('/');
            rest = after;
        }
    }
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let token = chars.next().unwrap_or('%');
        let error = || ExpandError {
            token,
            text: text.to_owned(),
        };
        match token {
            '%' => out.push('%'),
            'd' => out.push_str(home.as_deref().ok_or_else(error)?),
            'u' => out.push_str(tokens.local_user),
            'h' => out.push_str(tokens.host),
            'n' => out.push_str(tokens.original_host),
            'p' => out.push_str(&tokens.port.to_string()),
            'r' => out.push_str(tokens.user),
            'i' => out.push_str(&nix::unistd::getuid().to_string()),
            _ => return Err(error()),
        }
    }
    Ok(PathBuf::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_replaces_tilde_and_tokens() {
        let tokens = Tokens {
            home: Some(Path::new("/home/al")),
            local_user: "al",
            host: "h1.lab",
            original_host: "h1",
            port: 2222,
            user: "deploy",
        };
        assert_eq!(
            expand("~/.ssh/%r@%h:%p-%n-%u%%", &tokens).unwrap(),
            PathBuf::from("/home/al/.ssh/deploy@h1.lab:2222-h1-al%")
        );
        assert_eq!(
            expand("%d/x", &tokens).unwrap(),
            PathBuf::from("/home/al/x")
        );
        assert_eq!(expand("~", &tokens).unwrap(), PathBuf::from("/home/al"));
        assert_eq!(expand("a%Cb", &tokens).unwrap_err().token, 'C');
    }
}
