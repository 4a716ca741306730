//! What a host's task tells the display: [`HostMessage`], sent through a [`HostFeed`].
//!
//! Every task that follows a host (connect, session, reconnect) holds a feed; the one display task
//! holds the receiving end and turns each message into a call on its `Reporter`. The channel is
//! unbounded on purpose: a host's events are a few thousand at most, and a task must never wait
//! for the display (a slow terminal must not stall reading a host's stream, nor the other hosts).

use backup_orchestrator_proto::{Envelope, LogLevel, Summary};
use tokio::sync::mpsc;

use crate::error::CtlError;

/// One thing that happened to one host.
#[derive(Debug)]
pub enum HostMessage {
    /// An envelope of the host's run, as received (a replay included: the display drops it).
    Event { host: String, envelope: Envelope },
    /// A line of our own about the host (`connection lost, reconnecting (1/5)…`).
    Message {
        host: String,
        level: LogLevel,
        text: String,
    },
    /// The host's run ended: its summary. The host's last message.
    Finished { host: String, summary: Summary },
    /// The host could not run, or its run could not be followed. The host's last message.
    Failed { host: String, error: CtlError },
}

/// The sending end of the display channel, for one host.
#[derive(Debug, Clone)]
pub struct HostFeed {
    host: String,
    sender: mpsc::UnboundedSender<HostMessage>,
}

impl HostFeed {
    pub fn new(host: &str, sender: mpsc::UnboundedSender<HostMessage>) -> HostFeed {
        HostFeed {
            host: host.to_owned(),
            sender,
        }
    }

    pub fn event(&self, envelope: Envelope) {
        self.send(HostMessage::Event {
            host: self.host.clone(),
            envelope,
        });
    }

    pub fn message(&self, level: LogLevel, text: String) {
        self.send(HostMessage::Message {
            host: self.host.clone(),
            level,
            text,
        });
    }

    pub fn finished(&self, summary: Summary) {
        self.send(HostMessage::Finished {
            host: self.host.clone(),
            summary,
        });
    }

    pub fn failed(&self, error: CtlError) {
        self.send(HostMessage::Failed {
            host: self.host.clone(),
            error,
        });
    }

    fn send(&self, message: HostMessage) {
        // The display goes away only when the whole command ends (Ctrl-C, a failed write of our
        // output), and this host's task is dropped with it: a closed channel needs no answer.
        if self.sender.send(message).is_err() {
            tracing::debug!(host = %self.host, "the display is gone");
        }
    }
}
