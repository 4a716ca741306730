//! The system `ssh`'s command line for one host: [`SshArgs::argv`].
//!
//! Every value goes into its own argv entry, never through a shell on this side. The one string a
//! shell sees is the remote command, which ssh hands to the login shell on the host: its agent
//! path is quoted with `shell_quote`, as for the native transport.
//!
//! Order matters, because ssh keeps the first value of every option: `BatchMode=yes` comes first
//! (nothing may prompt), then the user's `-o` (they win over ours, as over the config), then the
//! host-key policy and the connect timeout.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The connection settings the command line gave, passed to ssh as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshArgs {
    /// `-F FILE`.
    pub config_file: Option<PathBuf>,
    /// `-J HOST[,HOST]`.
    pub jump: Option<String>,
    /// `-o KEY=VALUE`, in order.
    pub options: Vec<String>,
    /// `-l USER`.
    pub user: Option<String>,
    /// `-p PORT`.
    pub port: Option<u16>,
    /// `-i FILE`, in order.
    pub identity_files: Vec<PathBuf>,
    /// `-o ConnectTimeout=N`.
    pub connect_timeout: Duration,
}

impl SshArgs {
    /// The options shared by the agent's command and `ssh -G`, before the host.
    fn options(&self, accept_new_host_key: bool) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["-o".into(), "BatchMode=yes".into()];
        for option in &self.options {
            argv.push("-o".into());
            argv.push(option.into());
        }
        let policy = if accept_new_host_key {
            "accept-new"
        } else {
            "yes"
        };
        argv.push("-o".into());
        argv.push(format!("StrictHostKeyChecking={policy}").into());
        argv.push("-o".into());
        argv.push(format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)).into());
        if let Some(file) = &self.config_file {
            argv.push("-F".into());
            argv.push(file.into());
        }
        if let Some(jump) = &self.jump {
            argv.push("-J".into());
            argv.push(jump.into());
        }
        if let Some(user) = &self.user {
            argv.push("-l".into());
            argv.push(user.into());
        }
        if let Some(port) = self.port {
            argv.push("-p".into());
            argv.push(port.to_string().into());
        }
        for identity in &self.identity_files {
            argv.push("-i".into());
            argv.push(identity.into());
        }
        argv
    }

    /// `ssh -T … HOST -- COMMAND`: runs `command` on `host` with no terminal.
    pub fn argv(&self, host: &str, accept_new_host_key: bool, command: &str) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["-T".into()];
        argv.extend(self.options(accept_new_host_key));
        argv.extend([host.into(), "--".into(), command.into()]);
        argv
    }

    /// `ssh -G … HOST`: what ssh resolved for the host (read for the login user).
    pub fn probe_argv(&self, host: &str) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec!["-G".into()];
        argv.extend(self.options(false));
        argv.push(host.into());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(argv: &[OsString]) -> Vec<String> {
        argv.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn argv_passes_every_flag_as_its_own_word_and_the_command_after_the_host() {
        let args = SshArgs {
            config_file: Some("/tmp/my config".into()),
            jump: Some("bastion,inner".into()),
            options: vec!["ProxyCommand=ssh -W %h:%p gw".into()],
            user: Some("deploy".into()),
            port: Some(2222),
            identity_files: vec!["/k/id one".into()],
            connect_timeout: Duration::from_secs(7),
        };
        assert_eq!(
            words(&args.argv("h1", false, "sudo -n '/opt/a b' serve")),
            [
                "-T",
                "-o",
                "BatchMode=yes",
                "-o",
                "ProxyCommand=ssh -W %h:%p gw",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "ConnectTimeout=7",
                "-F",
                "/tmp/my config",
                "-J",
                "bastion,inner",
                "-l",
                "deploy",
                "-p",
                "2222",
                "-i",
                "/k/id one",
                "h1",
                "--",
                "sudo -n '/opt/a b' serve",
            ]
        );
    }

    #[test]
    fn argv_accepts_a_new_host_key_only_when_asked_and_user_options_come_first() {
        let args = SshArgs {
            options: vec!["StrictHostKeyChecking=accept-new".into()],
            connect_timeout: Duration::from_secs(10),
            ..SshArgs::default()
        };
        let argv = words(&args.argv("h", true, "c"));
        assert!(argv.contains(&"StrictHostKeyChecking=accept-new".to_owned()));
        let user = argv
            .iter()
            .position(|w| w == "StrictHostKeyChecking=accept-new");
        let ours = argv
            .iter()
            .rposition(|w| w.starts_with("StrictHostKeyChecking="));
        assert!(user < ours, "{argv:?}");
        let plain = words(&SshArgs::default().argv("h", false, "c"));
        assert!(
            plain.contains(&"StrictHostKeyChecking=yes".to_owned()),
            "{plain:?}"
        );
        assert_eq!(words(&SshArgs::default().probe_argv("h"))[0], "-G");
    }
}
