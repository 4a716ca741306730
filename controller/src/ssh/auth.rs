//! Public-key authentication, the way OpenSSH goes about it: [`authenticate`].
//!
//! 1. ssh-agent (`IdentityAgent`, else `$SSH_AUTH_SOCK`), every key it holds, unless
//!    `IdentitiesOnly yes` names explicit identity files;
//! 2. identity files, in order: `-i`, then `IdentityFile`, else ssh's default list. Missing files
//!    are skipped, and so are files group or others can read ("UNPROTECTED PRIVATE KEY FILE", as
//!    ssh). An encrypted key asks for its passphrase only when stdin is a terminal and `BatchMode`
//!    is off (and the time spent typing is not counted against the connect
//!    timeout); otherwise it is skipped, and if nothing else works the error says to `ssh-add` it.
//!    RSA key files are skipped with a warning: this build has no RSA (see Cargo.toml); an RSA key
//!    held by ssh-agent is offered, the agent doing the signing.
//!
//! Password and keyboard-interactive logins are never tried: nothing here may wait for a human
//! who is not there.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PrivateKeyWithHashAlg};

use super::algorithms::assemble;
use super::connect_error::{AuthError, ConnectError, Stage};
use super::deadline::Deadline;
use super::endpoint::{AgentSocket, Endpoint};

/// Passphrase attempts per key, as ssh.
const PASSPHRASE_ATTEMPTS: usize = 3;

/// What happened to one key.
enum Attempt {
    Success,
    Rejected,
    /// The server no longer accepts public keys at all.
    NoPublicKey(String),
}

/// Authenticates `endpoint.user` on `handle` with the agent's keys, then the identity files.
pub async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    endpoint: &Endpoint,
    deadline: &mut Deadline,
) -> Result<(), ConnectError> {
    let address = endpoint.address();
    let mut tried = Vec::new();
    if endpoint.use_agent() {
        match try_agent(handle, endpoint, deadline, &mut tried).await? {
            Some(Attempt::Success) => return Ok(()),
            Some(Attempt::NoPublicKey(offered)) => {
                return Err(AuthError::NoPublicKey { address, offered }.into());
            }
            Some(Attempt::Rejected) | None => {}
        }
    }
    let mut encrypted_skipped = None;
    for path in &endpoint.identity_files {
        let Some(key) = load_key(path, endpoint, deadline, &mut encrypted_skipped, &mut tried)?
        else {
            continue;
        };
        if !accepted(endpoint, &key.algorithm()) {
            tried.push(format!(
                "{} (not in PubkeyAcceptedAlgorithms)",
                path.display()
            ));
            continue;
        }
        tried.push(path.display().to_string());
        let attempt = deadline
            .run(
                Stage::Auth,
                &address,
                handle.authenticate_publickey(
                    &endpoint.user,
                    PrivateKeyWithHashAlg::new(Arc::new(key), None),
                ),
            )
            .await?
            .map_err(|source| AuthError::Ssh {
                address: address.clone(),
                source: Box::new(source),
            })?;
        match judge(attempt) {
            Attempt::Success => return Ok(()),
            Attempt::NoPublicKey(offered) => {
                return Err(AuthError::NoPublicKey { address, offered }.into());
            }
            Attempt::Rejected => {}
        }
    }
    if let Some(path) = encrypted_skipped {
        return Err(AuthError::EncryptedNoTerminal { address, path }.into());
    }
    Err(AuthError::Denied {
        address,
        user: endpoint.user.clone(),
        tried,
    }
    .into())
}

fn judge(result: AuthResult) -> Attempt {
    match result {
        AuthResult::Success => Attempt::Success,
        AuthResult::Failure {
            remaining_methods, ..
        } => {
            if remaining_methods.is_empty() || remaining_methods.contains(&MethodKind::PublicKey) {
                Attempt::Rejected
            } else {
                let offered: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
                Attempt::NoPublicKey(offered.join(", "))
            }
        }
    }
}

/// Tries every plain key the agent holds; `None` when there is no agent.
async fn try_agent<H: Handler>(
    handle: &mut Handle<H>,
    endpoint: &Endpoint,
    deadline: &mut Deadline,
    tried: &mut Vec<String>,
) -> Result<Option<Attempt>, ConnectError> {
    let address = endpoint.address();
    let socket = match &endpoint.agent {
        AgentSocket::Disabled => return Ok(None),
        AgentSocket::Path(path) => path.clone(),
        AgentSocket::FromEnvironment => match std::env::var_os("SSH_AUTH_SOCK") {
            Some(path) => PathBuf::from(path),
            None => return Ok(None),
        },
    };
    let mut agent = match deadline
        .run(Stage::Auth, &address, AgentClient::connect_uds(&socket))
        .await?
    {
        Ok(agent) => agent,
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach ssh-agent; trying identity files");
            return Ok(None);
        }
    };
    let identities = match deadline
        .run(Stage::Auth, &address, agent.request_identities())
        .await?
    {
        Ok(identities) => identities,
        Err(e) => {
            tracing::warn!(error = %e, "ssh-agent did not list its keys; trying identity files");
            return Ok(None);
        }
    };
    let keys: Vec<_> = identities
        .into_iter()
        .filter_map(|identity| match identity {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let keys: Vec<_> = keys
        .into_iter()
        .filter(|key| accepted(endpoint, &key.algorithm()))
        .collect();
    if keys.is_empty() {
        return Ok(None);
    }
    tried.push(format!("{} key(s) from ssh-agent", keys.len()));
    for key in keys {
        let hash = if key.algorithm().is_rsa() {
            best_rsa_hash(handle, &address, deadline).await?
        } else {
            None
        };
        let result = deadline
            .run(
                Stage::Auth,
                &address,
                handle.authenticate_publickey_with(&endpoint.user, key, hash, &mut agent),
            )
            .await?;
        match result {
            Ok(result) => match judge(result) {
                Attempt::Rejected => {}
                decided => return Ok(Some(decided)),
            },
            // The agent declined to sign (a confirm-constrained key, a locked agent): next key.
            Err(e) => tracing::debug!(error = %e, "ssh-agent could not sign"),
        }
    }
    Ok(Some(Attempt::Rejected))
}

/// Whether `PubkeyAcceptedAlgorithms` lets us offer a key of this type (RSA: any RSA signature).
fn accepted(endpoint: &Endpoint, algorithm: &Algorithm) -> bool {
    let Some(spec) = &endpoint.algorithms.pubkey else {
        return true;
    };
    const RSA: &[&str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    let names = super::supported::supported_names();
    let mut supported = names.keys.clone();
    supported.extend(RSA.iter().map(|s| s.to_string()));
    let allowed = assemble(spec, &names.key_defaults, &supported);
    if algorithm.clone().is_rsa() {
        allowed.iter().any(|a| RSA.contains(&a.as_str()))
    } else {
        allowed.iter().any(|a| a == algorithm.as_str())
    }
}

/// The RSA signature hash the server accepts (SHA-512 when it does not say).
async fn best_rsa_hash<H: Handler>(
    handle: &Handle<H>,
    address: &str,
    deadline: &Deadline,
) -> Result<Option<HashAlg>, ConnectError> {
    let best = deadline
        .run(Stage::Auth, address, handle.best_supported_rsa_hash())
        .await?;
    Ok(match best {
        Ok(Some(hash)) => hash,
        _ => Some(HashAlg::Sha512),
    })
}

/// The permission bits of a key file of ours that group or others may access, as ssh's
/// `sshkey_perm_ok` (a file owned by someone else is left to the open to refuse).
fn unprotected(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o777;
    (meta.uid() == nix::unistd::getuid().as_raw() && mode & 0o077 != 0).then_some(mode)
}

/// Loads a private key, asking for its passphrase on a terminal. `None`: skip this file.
fn load_key(
    path: &Path,
    endpoint: &Endpoint,
    deadline: &mut Deadline,
    encrypted_skipped: &mut Option<PathBuf>,
    tried: &mut Vec<String>,
) -> Result<Option<PrivateKey>, ConnectError> {
    if !path.exists() {
        if endpoint.explicit_identities {
            tracing::warn!(path = %path.display(), "identity file not found");
        }
        return Ok(None);
    }
    if let Some(mode) = unprotected(path) {
        // As ssh: a key others can read is not used, loudly.
        eprintln!(
            "UNPROTECTED PRIVATE KEY FILE: permissions {mode:04o} for {} are too open; it is \
             ignored (chmod 600 it)",
            path.display()
        );
        tried.push(format!(
            "{} (refused: UNPROTECTED PRIVATE KEY FILE, mode {mode:04o})",
            path.display()
        ));
        return Ok(None);
    }
    match russh::keys::load_secret_key(path, None) {
        Ok(key) if key.algorithm().is_rsa() => {
            // ssh's default list starts with id_rsa: warn only about a key the user named.
            if endpoint.explicit_identities {
                tracing::warn!(
                    path = %path.display(),
                    "RSA keys are not supported by this build: use an Ed25519 or ECDSA key"
                );
            }
            tried.push(format!(
                "{} (skipped: RSA is not supported)",
                path.display()
            ));
            return Ok(None);
        }
        Ok(key) => return Ok(Some(key)),
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot use identity file");
            tried.push(format!("{} (unreadable: {e})", path.display()));
            return Ok(None);
        }
    }
    if endpoint.batch_mode || !std::io::stdin().is_terminal() {
        tracing::debug!(path = %path.display(), "encrypted key and no terminal: skipped");
        encrypted_skipped.get_or_insert_with(|| path.to_path_buf());
        return Ok(None);
    }
    for _ in 0..PASSPHRASE_ATTEMPTS {
        let asked_at = Instant::now();
        let passphrase =
            rpassword::prompt_password(format!("Enter passphrase for key '{}': ", path.display()))
                .map_err(|source| AuthError::Prompt {
                    path: path.to_path_buf(),
                    source,
                })?;
        deadline.extend(asked_at.elapsed());
        if passphrase.is_empty() {
            return Ok(None);
        }
        match russh::keys::load_secret_key(path, Some(&passphrase)) {
            Ok(key) if key.algorithm().is_rsa() => {
                tried.push(format!(
                    "{} (skipped: RSA is not supported)",
                    path.display()
                ));
                return Ok(None);
            }
            Ok(key) => return Ok(Some(key)),
            Err(e) => tracing::debug!(error = %e, "wrong passphrase"),
        }
        eprintln!("Bad passphrase, try again.");
    }
    Ok(None)
}
