//! Opening an authenticated SSH connection to a [`Target`], through its ProxyJump hops: [`connect`].
//!
//! ```text
//!  TCP ─▶ hop 1: handshake (host key) ─▶ auth ─▶ direct-tcpip ─▶ hop 2 … ─▶ target: handshake ─▶ auth
//!  └──────────────────────── one Deadline: --connect-timeout / ConnectTimeout ───────────────────┘
//! ```
//!
//! russh has no connect timeout, so every network step runs under one [`Deadline`] for the whole
//! chain; only the time spent typing a key's passphrase is added back. Once connected, keepalives
//! (every [`KEEPALIVE_INTERVAL`], at most [`KEEPALIVE_MAX`] unanswered) notice a frozen host or
//! network mid-run within about 25 s: the exec channel then ends, and `reconnect` takes over.
//!
//! Each hop and the target get their own host key check (their HostName and port) and their own
//! identities. Host key algorithms already listed for the host in known_hosts are preferred, in
//! the default order, as OpenSSH does: a host known by its ECDSA and Ed25519 keys is checked with
//! Ed25519, one known only by ECDSA is checked with ECDSA.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use russh::{Preferred, kex};
use tokio::io::{AsyncRead, AsyncWrite};

use super::algorithms::{Lists, assemble};
use super::auth::authenticate;
use super::connect_error::{ConnectError, Stage};
use super::deadline::Deadline;
use super::endpoint::{Endpoint, Target, host_port};
use super::known_hosts::{self, HostKeyCheck, HostKeyError};
use super::supported::{is_rsa, supported_names};

/// Send a keepalive after this long without hearing from the server.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// Close the connection after this many unanswered keepalives.
pub const KEEPALIVE_MAX: usize = 4;

/// An authenticated connection to the target, keeping its jump hosts' connections open.
pub struct Connection {
    pub handle: Handle<ClientHandler>,
    /// The target as connected to (`user@host:port`), for messages.
    pub address: String,
    _jumps: Vec<Handle<ClientHandler>>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Connects to `target` through its hops, checking every host key and authenticating everywhere.
pub async fn connect(target: &Target) -> Result<Connection, ConnectError> {
    let mut deadline = Deadline::after(target.connect_timeout);
    let mut chain = target.jumps.iter().chain(std::iter::once(&target.endpoint));
    // The chain always holds the target.
    let first = chain.next().unwrap_or(&target.endpoint);
    let address = host_port(&first.host, first.port);
    tracing::debug!(%address, "connecting");
    let tcp = deadline
        .run(
            Stage::Tcp,
            &address,
            tokio::net::TcpStream::connect((first.host.as_str(), first.port)),
        )
        .await?
        .map_err(|source| ConnectError::Tcp {
            address: address.clone(),
            source,
        })?;
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let mut handle = open(first, tcp, &mut deadline).await?;
    let mut via = first;
    let mut jumps = Vec::new();
    for endpoint in chain {
        let address = host_port(&endpoint.host, endpoint.port);
        tracing::debug!(via = %via.alias, %address, "opening a ProxyJump tunnel");
        let channel = deadline
            .run(
                Stage::Tunnel,
                &address,
                handle.channel_open_direct_tcpip(
                    endpoint.host.clone(),
                    u32::from(endpoint.port),
                    "127.0.0.1",
                    0,
                ),
            )
            .await?
            .map_err(|source| ConnectError::Tunnel {
                via: via.alias.clone(),
                address: address.clone(),
                source: Box::new(source),
            })?;
        let next = open(endpoint, channel.into_stream(), &mut deadline).await?;
        jumps.push(std::mem::replace(&mut handle, next));
        via = endpoint;
    }
    Ok(Connection {
        handle,
        address: target.endpoint.address(),
        _jumps: jumps,
    })
}

/// Handshake (with the host key check) and authentication over `stream`.
async fn open<S>(
    endpoint: &Endpoint,
    stream: S,
    deadline: &mut Deadline,
) -> Result<Handle<ClientHandler>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let address = host_port(&endpoint.host, endpoint.port);
    let check = HostKeyCheck {
        alias: endpoint.alias.clone(),
        host: endpoint.host.clone(),
        port: endpoint.port,
        user_files: endpoint.user_known_hosts.clone(),
        global_files: endpoint.global_known_hosts.clone(),
        policy: endpoint.host_key_policy,
        hash: endpoint.hash_known_hosts,
    };
    let refused = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        check: check.clone(),
        refused: Arc::clone(&refused),
    };
    let handshake =
        client::connect_stream(client_config(&check, &endpoint.algorithms), stream, handler);
    let mut handle = match deadline.run(Stage::Handshake, &address, handshake).await? {
        Ok(handle) => handle,
        Err(source) => {
            let refusal = refused.lock().ok().and_then(|mut slot| slot.take());
            return Err(match refusal {
                Some(host_key) => ConnectError::HostKey(host_key),
                None => ConnectError::Handshake {
                    address,
                    source: Box::new(source),
                },
            });
        }
    };
    authenticate(&mut handle, endpoint, deadline).await?;
    tracing::debug!(address = %endpoint.address(), "authenticated");
    Ok(handle)
}

fn client_config(check: &HostKeyCheck, lists: &Lists) -> Arc<client::Config> {
    let mut config = client::Config {
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..client::Config::default()
    };
    let names = supported_names();
    let preferred = &mut config.preferred;
    if let Some(spec) = &lists.ciphers {
        let chosen = assemble(spec, &names.cipher_defaults, &names.ciphers);
        preferred.cipher = Cow::Owned(named(&chosen));
    }
    if let Some(spec) = &lists.macs {
        let chosen = assemble(spec, &names.mac_defaults, &names.macs);
        preferred.mac = Cow::Owned(named(&chosen));
    }
    if let Some(spec) = &lists.kex {
        // The extension pseudo-algorithms (ext-info, strict kex) are not choices: kept last.
        let mut kex: Vec<kex::Name> = named(&assemble(spec, &names.kex_defaults, &names.kex));
        kex.extend(
            Preferred::DEFAULT
                .kex
                .iter()
                .filter(|n| {
                    n.as_ref().starts_with("ext-info") || n.as_ref().starts_with("kex-strict")
                })
                .copied(),
        );
        preferred.kex = Cow::Owned(kex);
    }
    let keys: Vec<Algorithm> = match &lists.host_keys {
        // An explicit HostKeyAlgorithms is used in its own order, as ssh does.
        Some(spec) => assemble(spec, &names.key_defaults, &names.keys)
            .iter()
            .filter_map(|name| Algorithm::new(name).ok())
            .collect(),
        // As ssh's order_hostkeyalgs: the types known for the host first, in the default
        // preference order (Ed25519 before ECDSA), not in known_hosts line order; then the rest.
        None => {
            let known = known_hosts::known_algorithms(
                &check.host,
                check.port,
                check.user_files.iter().chain(&check.global_files),
            );
            let defaults: Vec<Algorithm> = preferred
                .key
                .iter()
                .filter(|a| !is_rsa(a))
                .cloned()
                .collect();
            let (mut keys, rest): (Vec<Algorithm>, Vec<Algorithm>) =
                defaults.into_iter().partition(|a| known.contains(a));
            keys.extend(rest);
            keys
        }
    };
    preferred.key = Cow::Owned(keys);
    Arc::new(config)
}

/// russh's names for a list of algorithm names it supports.
fn named<N: for<'a> TryFrom<&'a str>>(names: &[String]) -> Vec<N> {
    names
        .iter()
        .filter_map(|name| N::try_from(name.as_str()).ok())
        .collect()
}

/// russh's callbacks: only the host key check matters here.
pub struct ClientHandler {
    check: HostKeyCheck,
    /// Why the key was refused, for [`ConnectError::HostKey`] (russh only sees "unknown key").
    refused: Arc<Mutex<Option<Box<HostKeyError>>>>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                known_hosts::verify(&self.check, key).map(|_| ())
            }
            PublicKeyOrCertificate::Certificate(_) => Err(Box::new(HostKeyError::Certificate {
                alias: self.check.alias.clone(),
                lookup: self.check.lookup_name(),
            })),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(error) => {
                tracing::debug!(%error, "host key refused");
                if let Ok(mut slot) = self.refused.lock() {
                    *slot = Some(error);
                }
                Ok(false)
            }
        }
    }
}
