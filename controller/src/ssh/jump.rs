//! ProxyJump entries: [`parse_jump`].

use super::config_error::ConfigError;

/// One ProxyJump entry: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Debug, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

pub fn parse_jump(spec: &str) -> Result<JumpSpec, ConfigError> {
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
    use super::*;

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
