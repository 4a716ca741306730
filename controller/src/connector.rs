//! Which transport reaches a host: [`Transport`], and [`HostConnector`], the one `Connect` the
//! fleet runs per host whichever it is.
//!
//! The choice is per host: `--transport` sets it for the command line's hosts, and a fleet's
//! inventory may set it for one host (`transport = "openssh"`) by building its `HostConnector`
//! with `Transport::Openssh`.

use crate::error::CtlError;
use crate::openssh::OpensshConnector;
use crate::reconnect::Connect;
use crate::session::Session;
use crate::ssh::SshConnector;

/// Opens sessions with one host's agent over its transport.
#[derive(Debug, Clone)]
pub enum HostConnector {
    Native(SshConnector),
    Openssh(OpensshConnector),
}

impl Connect for HostConnector {
    async fn connect(&mut self) -> Result<Session, CtlError> {
        match self {
            HostConnector::Native(connector) => Ok(connector.open().await?),
            HostConnector::Openssh(connector) => Ok(connector.open().await?),
        }
    }
}
