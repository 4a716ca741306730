//! Paths of the workspace's binaries under test, as `cargo build --workspace --bins` left them.
//!
//! Tests never build: the binaries must already exist, built by the same cargo invocation
//! style (profile, target dir) as the test binary itself.

use std::env;
use std::path::{Path, PathBuf};

/// `backup-orchestrator`, the agent bind-mounted into the hosts (`HostSpec::agent`).
pub fn agent_binary() -> PathBuf {
    workspace_binary("backup-orchestrator")
}

/// `backup-orchestrator-ctl`, the controller run on this machine.
pub fn controller_binary() -> PathBuf {
    workspace_binary("backup-orchestrator-ctl")
}

fn workspace_binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The directory cargo puts the workspace's binaries in.
fn bin_dir() -> PathBuf {
    // A test binary runs from <target>/<profile>/deps/, the sandbox binary from
    // <target>/<profile>/: either way the binaries under test sit in <target>/<profile>, for any
    // CARGO_TARGET_DIR and profile.
    if let Ok(exe) = env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let dir = if dir.file_name().is_some_and(|n| n == "deps") {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        };
        if dir.join("backup-orchestrator").is_file() {
            return dir.to_path_buf();
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf();
    let target = match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir), // join keeps an absolute dir as is
        None => workspace.join("target"),
    };
    target.join("debug")
}
