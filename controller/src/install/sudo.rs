//! Getting root on the host once, for the install: [`Sudo`], found by [`find_sudo`], and the one
//! privileged script it runs, [`privileged_command`].
//!
//! ```text
//!  sudo -n true ── ok ─────────────────────────────▶ Sudo::Passwordless   (sudo -n sh -c SCRIPT …)
//!      └─ "a password is required" ─ terminal? ─ yes ─▶ ask (not echoed) ─▶ sudo -S -p '' -k true
//!                                      │                 ok ─▶ Sudo::Password (sudo -S -p '' -k sh -c …)
//!                                      └─ no ─▶ NeedsPassword: exit 3 with the sudoers line
//! ```
//!
//! The password goes to sudo on the channel's stdin and nowhere else: not in a command line, not
//! in a message, not on disk (it lives in a [`Zeroizing`] buffer). `-k` makes sudo read it every
//! time, so it is never left unread on stdin for the command; and the script closes its stdin
//! first thing anyway. The script's data (paths, the checksum, the rule) are its positional
//! arguments, each shell-quoted: the script text itself is a constant.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::error::InstallError;
use crate::ssh::command::{self, CommandOutput};
use crate::ssh::connect::Connection;
use crate::ssh::exec::shell_quote;

/// Small commands get this long.
const QUICK: Duration = Duration::from_secs(30);
/// Tries at the password, as sudo itself allows.
const PASSWORD_TRIES: usize = 3;

/// The privileged part of the install, run as `sh -c SCRIPT sh SRC DEST SHA256 RULE_FILE RULE`.
/// An empty SRC keeps the installed agent; an empty RULE keeps the rule. Both new files are made
/// next to their destination (same filesystem, a name sudo ignores: it contains a dot) and renamed
/// over it, so a reader sees the old file or the new one, never half of one; a process already
/// running the old agent keeps its inode. Exit 65: the copy's checksum is wrong; 66: visudo
/// refused the rule; 67: the copied agent does not run on this host.
const SCRIPT: &str = r#"exec </dev/null
set -eu
src=$1 dest=$2 sum=$3 rule_file=$4 rule=$5
if [ -n "$src" ]; then
    dir=$(dirname "$dest")
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.backup-orchestrator.XXXXXX")
    trap 'rm -f "$tmp" "$src"' EXIT
    cat "$src" >"$tmp"
    chown root:root "$tmp"
    chmod 0755 "$tmp"
    got=$(sha256sum "$tmp")
    got=${got%% *}
    if [ "$got" != "$sum" ]; then
        echo "the uploaded agent's sha256 is $got, expected $sum" >&2
        exit 65
    fi
    if ! version=$("$tmp" --version 2>&1); then
        echo "$version" >&2
        exit 67
    fi
    mv -f "$tmp" "$dest"
    rm -f "$src"
    trap - EXIT
fi
if [ -n "$rule" ]; then
    tmp=$(mktemp /etc/sudoers.d/.backup-orchestrator.XXXXXX)
    trap 'rm -f "$tmp"' EXIT
    printf '%s\n' "$rule" >"$tmp"
    chown root:root "$tmp"
    chmod 0440 "$tmp"
    visudo -c -q -f "$tmp" >&2 || exit 66
    mv -f "$tmp" "$rule_file"
    trap - EXIT
fi
"#;

/// How to run a command as root on one host.
pub enum Sudo {
    /// `sudo -n` works for this user.
    Passwordless,
    /// sudo wants this password (typed by the user, kept only in memory).
    Password(Zeroizing<String>),
}

impl std::fmt::Debug for Sudo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sudo::Passwordless => "Passwordless",
            Sudo::Password(_) => "Password(…)",
        })
    }
}

impl Sudo {
    /// `sudo …` for the non-interactive or the password way, before the command.
    fn prefix(&self) -> &'static str {
        match self {
            Sudo::Passwordless => "sudo -n",
            Sudo::Password(_) => "sudo -S -p '' -k",
        }
    }

    /// Runs `command` (already quoted) as root, feeding the password if there is one.
    async fn run(
        &self,
        connection: &Arc<Connection>,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, InstallError> {
        let line = format!("{} {command}", self.prefix());
        let output = match self {
            Sudo::Passwordless => command::run(connection, &line, None, timeout).await,
            Sudo::Password(password) => {
                // Wiped when dropped, like the password itself.
                let input = Zeroizing::new(format!("{}\n", password.as_str()).into_bytes());
                let mut stdin: &[u8] = input.as_slice();
                command::run(connection, &line, Some(&mut stdin), timeout).await
            }
        };
        output.map_err(InstallError::from)
    }
}

/// What the host's sudo will do for us, asking for the password (serialised across hosts by
/// `prompt_lock`) when it wants one and there is a terminal.
pub async fn find_sudo(
    connection: &Arc<Connection>,
    host: &str,
    user: &str,
    prompt_lock: &Mutex<()>,
) -> Result<Sudo, InstallError> {
    let probe = command::run(connection, "sudo -n true", None, QUICK).await?;
    if probe.success() {
        return Ok(Sudo::Passwordless);
    }
    let said = probe.exit.stderr.trim().to_owned();
    if !wants_password(&said) {
        return Err(InstallError::SudoRefused { said });
    }
    if !std::io::stdin().is_terminal() {
        return Err(InstallError::NeedsPassword);
    }
    let _turn = prompt_lock.lock().await;
    for _ in 0..PASSWORD_TRIES {
        let prompt = format!("[sudo] password for {user} on {host}: ");
        let typed = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt))
            .await
            .map_err(|e| InstallError::Prompt {
                source: std::io::Error::other(e),
            })?
            .map_err(|source| InstallError::Prompt { source })?;
        let sudo = Sudo::Password(Zeroizing::new(typed));
        if sudo.run(connection, "true", QUICK).await?.success() {
            return Ok(sudo);
        }
        eprintln!("Sorry, try again.");
    }
    Err(InstallError::WrongPassword {
        tries: PASSWORD_TRIES,
    })
}

/// sudo's ways of saying it would need a password.
fn wants_password(said: &str) -> bool {
    [
        "a password is required",
        "a terminal is required",
        "no tty present",
    ]
    .iter()
    .any(|needle| said.contains(needle))
}

/// What the privileged script is to do.
#[derive(Debug)]
pub struct Privileged<'a> {
    /// The uploaded agent (a temporary file of the SSH user's) and its SHA-256; `None` keeps the
    /// installed agent.
    pub upload: Option<(&'a str, &'a str)>,
    pub agent_path: &'a str,
    pub rule_file: &'a str,
    /// The sudoers line; `None` keeps the rule.
    pub rule: Option<&'a str>,
}

/// The privileged command line: `sh -c SCRIPT sh ARGS…`, every argument quoted.
pub fn privileged_command(work: &Privileged<'_>) -> String {
    let (src, sum) = work.upload.unwrap_or(("", ""));
    let words = [
        "sh",
        "-c",
        SCRIPT,
        "sh",
        src,
        work.agent_path,
        sum,
        work.rule_file,
        work.rule.unwrap_or(""),
    ];
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the privileged script; its failures are named by their exit status.
pub async fn run_privileged(
    sudo: &Sudo,
    connection: &Arc<Connection>,
    work: &Privileged<'_>,
    timeout: Duration,
) -> Result<(), InstallError> {
    let output = sudo
        .run(connection, &privileged_command(work), timeout)
        .await?;
    if output.success() {
        return Ok(());
    }
    let said = output.exit.stderr.trim().to_owned();
    Err(match output.exit.status {
        Some(65) => InstallError::ChecksumMismatch { said },
        Some(66) => InstallError::RuleRefused { said },
        Some(67) => InstallError::AgentDoesNotRun { said },
        status => InstallError::ScriptFailed { status, said },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_privileged_command_passes_data_as_quoted_arguments() {
        let command = privileged_command(&Privileged {
            upload: Some(("/tmp/tmp.x", "ab12")),
            agent_path: "/opt/my agent",
            rule_file: "/etc/sudoers.d/backup-orchestrator",
            rule: Some("deploy ALL=(root) NOPASSWD: /opt/my agent serve"),
        });
        assert!(command.starts_with("sh -c 'exec </dev/null"), "{command}");
        assert!(
            command.ends_with(
                " sh /tmp/tmp.x '/opt/my agent' ab12 /etc/sudoers.d/backup-orchestrator \
                 'deploy ALL=(root) NOPASSWD: /opt/my agent serve'"
            ),
            "{command}"
        );
        let keep = privileged_command(&Privileged {
            upload: None,
            agent_path: "/usr/local/bin/backup-orchestrator",
            rule_file: "/etc/sudoers.d/backup-orchestrator",
            rule: None,
        });
        assert!(
            keep.ends_with(
                " sh '' /usr/local/bin/backup-orchestrator '' /etc/sudoers.d/backup-orchestrator ''"
            ),
            "{keep}"
        );
    }

    #[test]
    fn sudo_password_wanted_is_told_from_not_allowed() {
        assert!(wants_password("sudo: a password is required"));
        assert!(!wants_password(
            "deploy is not in the sudoers file.  This incident will be reported."
        ));
    }
}
