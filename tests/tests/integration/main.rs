//! The one integration-test binary: real hosts (systemd-nspawn containers with systemd as
//! PID 1, sshd and sudo) booted per test through `backup_orchestrator_tests::TestHosts`.
//! Run as root with cargo-nextest; `.config/nextest.toml` limits how many boot at once.
//! `nix` needs no host: it checks the Nix files offline with `nix-instantiate`.

mod agent;
mod boundary;
mod controller;
mod faults;
mod fleet;
mod install;
mod monitoring;
mod nix;
mod observe;
mod schema;
mod smoke;
mod ssh_rules;
mod support;
mod terminal;
mod transport;
