//! The wire contract between `backup-orchestrator-ctl` (the controller, on a laptop or in a deploy
//! pipeline) and `backup-orchestrator serve` (the agent, on the host).
//!
//! This crate has no SSH and no D-Bus in it: only the message types, the version handshake, the frame
//! codec, the exit codes and the JSON summary schema. Both binaries, and any other tool that wants to
//! read an agent's event log, depend on it.
//!
//! # Session
//!
//! ```text
//!  controller                                   agent (`sudo -n backup-orchestrator serve`)
//!      │ ── Hello{magic, protocol, software, caps} ──▶ │
//!      │ ◀── Hello{magic, protocol, software, caps} ── │  each side checks the other (hello.rs)
//!      │ ── Request::{Run|Attach|Status|Cancel|Logs|History} ▶ │
//!      │ ◀── Reply::Event(Envelope) … ──────────────── │  a run: events until RunFinished
//!      │ ◀── Reply::{Status|Cancelled|Logs|History|Refused}  │  or a single answer
//!      │              EOF                               │
//! ```
//!
//! Every frame is a 4-byte big-endian length followed by a MessagePack map with named fields
//! ([`codec`]); frames are at most [`codec::MAX_FRAME_LEN`] bytes.
//!
//! # Stability policy
//!
//! Laptop and host upgrade at different times, so the contract evolves only in ways an older peer
//! survives:
//! - a new field is optional with a `#[serde(default)]`; old readers ignore it (no
//!   `deny_unknown_fields` on wire types);
//! - a new enum variant lands in the older reader's `Unknown` catch-all (`#[serde(other)]`), so every
//!   enum on the wire is internally tagged; never `untagged`, never `flatten`, never the array form;
//! - removing or retyping a field, or changing a meaning, bumps [`hello::PROTOCOL_VERSION`]'s major,
//!   and the handshake then refuses with a message saying which side to upgrade.
//!
//! The tests in `tests/compat.rs` keep a frozen copy of the v1.0 types and check both directions.
//!
//! # Not part of the contract
//!
//! `backup-orchestrator-render` (in `proto/render/`) is a sibling crate, not part of this one: it
//! turns these events into words (bars, `[INFO]` lines, the final report) for both binaries. Its
//! text may change in any release; only what this crate defines (the wire, the exit codes, the
//! JSON summary schema) is held stable.

pub mod codec;
pub mod event;
pub mod exit_codes;
pub mod hello;
pub mod outcome;
pub mod request;
pub mod summary;

pub use codec::{FrameError, MessageCodec};
pub use event::{Envelope, Event, LogLevel};
pub use hello::{Hello, Incompatibility, PROTOCOL_VERSION, ProtocolVersion, Role};
pub use outcome::Tally;
pub use request::{
    Refusal, RefusalKind, Reply, Request, RunHistory, RunOptions, RunRecord, RunState,
    StatusReport, UnitLogs,
};
pub use summary::{Outcome, Summary, UnitReport, Verdict};
