//! The signal task: [`start`] subscribes to systemd's signals and to the bus's news of systemd's
//! name, and [`dispatch`] reads both, for the whole connection, from before the first `StartUnit`
//! to the end, handing systemd's signals to [`Signals`] and dropping the others (see
//! `sender_check.rs`). It never polls anything but its two queues: a task that waits on the bus
//! while a queue fills stalls the connection (zbus waits for room before it reads on), and with it
//! the replies the task would be waiting for.

use std::num::NonZeroUsize;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use zbus::fdo::DBusProxy;
use zbus::message::Type;
use zbus::names::BusName;
use zbus::proxy::CacheProperties;
use zbus::{Connection, MatchRule, MessageStream};

use super::api::SystemdError;
use super::deadline::{BusError, bounded};
use super::names::SYSTEMD;
use super::proxies::ManagerProxy;
use super::sender_check::{BUS, SenderCheck};
use super::signals::Signals;

/// Room in the signal stream's queue. The task empties it continuously; this only absorbs bursts
/// (every unit of a stage starting at once sends ~10 signals each).
const SIGNAL_QUEUE: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// The signal task, stopped when dropped (with the last clone of the bus).
#[derive(Debug)]
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Room in the queue of the bus's `NameOwnerChanged` signals about systemd's name (one per
/// re-execution; forged ones addressed to us land here too and are dropped as quickly).
const OWNER_QUEUE: NonZeroUsize = NonZeroUsize::new(64).unwrap();

/// Subscribes to systemd's signals on `conn` and starts the task that reads them (on the current
/// tokio runtime). Returns once the stream is in place: no signal sent after this is missed.
pub(crate) async fn start(
    conn: &Connection,
    manager: &ManagerProxy<'static>,
) -> Result<(Arc<Signals>, AbortOnDrop), SystemdError> {
    let subscribe = |source| SystemdError::Subscribe { source };
    let rule = |builder: zbus::Result<MatchRule<'static>>| {
        builder.map_err(|e| subscribe(BusError::from(e)))
    };
    // Every signal systemd sends: the bus resolves the well-known name to its owner at each
    // signal, so this still holds after a daemon-reexec. (Signals other clients address to us
    // arrive whatever the rule: zbus cannot match a well-known sender, see sender_check.rs.)
    let systemd_rule = rule(
        MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(SYSTEMD)
            .build(),
    )?;
    let owner_rule = rule(
        MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(BUS)
            .interface(BUS)
            .member("NameOwnerChanged")
            .arg(0, SYSTEMD)
            .build(),
    )?;
    let (stream, owners, ()) = tokio::try_join!(
        bounded(
            "AddMatch",
            MessageStream::for_match_rule(systemd_rule, conn, Some(SIGNAL_QUEUE)),
        ),
        bounded(
            "AddMatch",
            MessageStream::for_match_rule(owner_rule, conn, Some(OWNER_QUEUE)),
        ),
        bounded("Subscribe", manager.subscribe()),
    )
    .map_err(subscribe)?;
    // Asked once the owner changes are followed: a change after this answer is in `owners`.
    let owner = initial_owner(conn).await.map_err(subscribe)?;
    let signals = Arc::new(Signals::default());
    let dispatcher = tokio::spawn(dispatch(
        stream,
        owners,
        SenderCheck::new(owner),
        Arc::clone(&signals),
    ));
    Ok((signals, AbortOnDrop(dispatcher)))
}

/// The unique name that owns systemd's bus name now.
async fn initial_owner(conn: &Connection) -> Result<String, BusError> {
    let dbus = bounded(
        "GetNameOwner",
        DBusProxy::builder(conn)
            .cache_properties(CacheProperties::No)
            .build(),
    )
    .await?;
    let name = BusName::try_from(SYSTEMD)?;
    let owner = bounded("GetNameOwner", async {
        Ok(dbus.get_name_owner(name).await?)
    })
    .await?;
    Ok(owner.to_string())
}

/// The signal task: see the module doc. It never waits on anything but its two queues.
async fn dispatch(
    mut stream: MessageStream,
    mut owners: MessageStream,
    mut sender_check: SenderCheck,
    signals: Arc<Signals>,
) {
    loop {
        tokio::select! {
            biased;
            Some(change) = owners.next() => {
                if let Ok(change) = change {
                    sender_check.owner_changed(&change);
                }
            }
            msg = stream.next() => {
                let Some(msg) = msg else { break };
                let Ok(msg) = msg else { continue };
                // The connection puts each message in its queues before it reads the next, so
                // an owner change that came before this signal is in `owners` by now: taken
                // first, the new systemd's first signals are not mistaken for a stranger's.
                while let Some(Some(Ok(change))) = owners.next().now_or_never() {
                    sender_check.owner_changed(&change);
                }
                if sender_check.is_systemd(&msg) {
                    signals.receive(&msg);
                } else {
                    signals.count_foreign();
                }
            }
        }
    }
    signals.close();
}
