//! [`LocalAgent`]: the agent binary to upload, hashed once; [`SUDOERS_FILE`], where its rule goes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::CtlError;

/// The sudoers drop-in `install` writes.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/backup-orchestrator";

/// The agent to install, read once.
#[derive(Debug)]
pub struct LocalAgent {
    pub path: PathBuf,
    /// Lowercase hex.
    pub sha256: String,
}

impl LocalAgent {
    /// Hashes `path`; usage error (64) when it is not there.
    pub(super) async fn load(path: &Path) -> Result<LocalAgent, CtlError> {
        let unreadable = |e: std::io::Error| CtlError::Usage {
            message: format!(
                "cannot read the agent binary {}: {e}. Build it with `cargo build --release -p \
                 backup-orchestrator` (it lands in target/release/) or take it from a release, and \
                 pass --agent-binary FILE",
                path.display()
            ),
        };
        let mut file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer).await.map_err(unreadable)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(LocalAgent {
            path: path.to_owned(),
            sha256: data_encoding::HEXLOWER.encode(&hasher.finalize()),
        })
    }
}
