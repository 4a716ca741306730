//! Fixture for backup-orchestrator's real-host integration tests.
//!
//! [`TestHosts`] boots a group of real Debian hosts through the `tests/hosts/testhosts`
//! harness: systemd-nspawn containers with systemd as PID 1, OpenSSH sshd and sudo, each
//! on its own IP in a private /24 that nothing can leave. Tests talk to them exactly as
//! the product does: the OpenSSH client with the generated `ssh_config` (strict host-key
//! checking), `sudo -n`, and D-Bus to systemd inside.
//!
//! ```text
//!   test process ── testhosts up GROUP N ──> /run/bo-testhosts/GROUP/{ssh_config, known_hosts, id_ed25519, hosts}
//!        │                                        bridge bo-GROUP 10.231.X.1/24
//!        │ ssh -F ssh_config hN                    ├── h1 10.231.X.11  systemd, sshd, sudo, units
//!        └──────────────────────────────────────── ├── h2 10.231.X.12
//!                                                  └── …
//!   drop(TestHosts) ── testhosts down GROUP   (on panic: console and journal tails first)
//! ```
//!
//! Why a shell harness plus a thin Rust wrapper: booting needs root-only plumbing (netns,
//! overlayfs, cgroups, nspawn) that is easiest to read, rerun and debug by hand as a script
//! (`tests/hosts/testhosts up smoke 3`), while tests want a typed handle that tears the
//! hosts down on drop. Each nextest test runs in its own process and boots its own group,
//! so groups must be unique per test.
//!
//! [`UnitSet`] writes the systemd units the hosts get, including the user's plan
//! ([`UnitSet::user_plan`]); every unit logs its start and exit to [`TRACE_FILE`] on its
//! host so tests can check ordering and concurrency from the units' own clocks
//! ([`parse_trace`], [`max_concurrency`]).

mod binaries;
mod hosts;
mod process;
mod units;

pub use binaries::{agent_binary, controller_binary};
pub use hosts::{HostSpec, Sudo, TestHosts, testhosts_script};
pub use process::{TimedOut, output_with_timeout};
pub use units::{
    EXCLUDED_UNITS, PLAN_UNITS, TRACE_FILE, TraceEvent, TraceKind, UnitSet, excluded_marker,
    max_concurrency, parse_trace,
};
