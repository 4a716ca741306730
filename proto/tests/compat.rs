//! Version skew: a frozen copy of the protocol 1.0 types (module `v1`, never edited after release)
//! reads what the current types write, and the reverse; and a simulated 1.1 writer (a new optional
//! field, a new event variant) is read by 1.0 without error.
//!
//! When a wire type changes, keep `v1` as it is, and add the change to `v1_1_writer` style tests.

mod common;

use backup_orchestrator_proto::codec::encode_body;
use backup_orchestrator_proto::{Envelope, Hello, Reply, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Protocol 1.0 exactly as released. Do not edit.
mod v1 {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct ProtocolVersion {
        pub major: u16,
        pub minor: u16,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Hello {
        #[serde(default)]
        pub magic: String,
        #[serde(default)]
        pub protocol: Option<ProtocolVersion>,
        #[serde(default)]
        pub software: String,
        #[serde(default)]
        pub role: Option<String>,
        #[serde(default)]
        pub capabilities: Vec<String>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "request", rename_all = "snake_case")]
    pub enum Request {
        Run(RunOptions),
        Attach {
            #[serde(default)]
            run_id: Option<String>,
            #[serde(default)]
            after_seq: Option<u64>,
        },
        Status,
        Cancel {
            #[serde(default)]
            stop_units: bool,
        },
        #[serde(other)]
        Unknown,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct RunOptions {
        #[serde(default)]
        pub dry_run: bool,
        #[serde(default)]
        pub stop_units_on_timeout: bool,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "reply", rename_all = "snake_case")]
    pub enum Reply {
        Event(Envelope),
        Status(StatusReport),
        Cancelled {
            run_id: String,
            stop_units: bool,
        },
        Refused(Refusal),
        #[serde(other)]
        Unknown,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Refusal {
        pub kind: String,
        pub message: String,
        #[serde(default)]
        pub run_id: Option<String>,
        #[serde(default)]
        pub started_at: Option<String>,
        pub exit_code: i32,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct StatusReport {
        pub state: String,
        #[serde(default)]
        pub run_id: Option<String>,
        #[serde(default)]
        pub started_at: Option<String>,
        #[serde(default)]
        pub units_done: u32,
        #[serde(default)]
        pub units_total: u32,
        #[serde(default)]
        pub running: Vec<String>,
        #[serde(default)]
        pub summary: Option<Summary>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Envelope {
        pub seq: u64,
        pub at_ms: u64,
        pub elapsed_ms: u64,
        pub event: Event,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Event {
        RunStarted(RunStarted),
        PreflightCheck(PreflightCheck),
        StageStarted(StageStarted),
        StageFinished(StageFinished),
        UnitDiscovered(UnitRef),
        UnitSkipped(UnitSkipped),
        UnitStarted(UnitStarted),
        UnitFinished(UnitFinished),
        UnitTimedOut(UnitTimedOut),
        Log(Log),
        RunFinished(RunFinished),
        #[serde(other)]
        Unknown,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct RunStarted {
        pub run_id: String,
        pub host: String,
        pub started_at: String,
        pub agent: String,
        #[serde(default)]
        pub dry_run: bool,
        pub plan: PlanOutline,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct PlanOutline {
        pub source: String,
        pub failure_threshold_percent: u32,
        #[serde(default)]
        pub stages: Vec<StageOutline>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct StageOutline {
        pub name: String,
        pub units: Vec<String>,
        #[serde(default)]
        pub exclude: Vec<String>,
        pub parallel: u32,
        pub timeout_secs: u64,
        #[serde(default)]
        pub warn_only: bool,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct PreflightCheck {
        pub path: String,
        pub min_free_bytes: u64,
        #[serde(default)]
        pub free_bytes: Option<u64>,
        pub passed: bool,
        #[serde(default)]
        pub error: Option<String>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct StageStarted {
        pub index: u32,
        pub name: String,
        pub units: Vec<String>,
        pub parallel: u32,
        pub timeout_secs: u64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct StageFinished {
        pub index: u32,
        pub name: String,
        pub successful: u32,
        pub failed: u32,
        pub timed_out: u32,
        pub skipped: u32,
        #[serde(default)]
        pub warnings: u32,
        pub duration_ms: u64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitRef {
        pub stage: String,
        pub unit: String,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitSkipped {
        pub stage: String,
        pub unit: String,
        pub reason: String,
        pub active_state: String,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitStarted {
        pub stage: String,
        pub unit: String,
        #[serde(default)]
        pub invocation_id: Option<String>,
        pub timeout_secs: u64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitFinished {
        pub stage: String,
        pub unit: String,
        pub outcome: String,
        pub result: String,
        pub active_state: String,
        #[serde(default)]
        pub exit_status: Option<i32>,
        pub duration_ms: u64,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitTimedOut {
        pub stage: String,
        pub unit: String,
        pub timeout_secs: u64,
        pub still_running: bool,
        #[serde(default)]
        pub stop_requested: bool,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Log {
        pub level: String,
        pub message: String,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct RunFinished {
        pub summary: Summary,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct Summary {
        pub total_services: u32,
        pub successful: u32,
        pub failed: u32,
        pub timed_out: u32,
        pub skipped: u32,
        pub failure_rate_percent: u32,
        pub exit_code: i32,
        #[serde(default)]
        pub warnings: u32,
        pub run_id: String,
        pub host: String,
        pub started_at: String,
        pub duration_ms: u64,
        #[serde(default)]
        pub dry_run: bool,
        #[serde(default)]
        pub cancelled: bool,
        #[serde(default)]
        pub critical_reason: Option<String>,
        #[serde(default)]
        pub units: Vec<UnitReport>,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    pub struct UnitReport {
        pub unit: String,
        pub stage: String,
        pub outcome: String,
        #[serde(default)]
        pub result: Option<String>,
        #[serde(default)]
        pub exit_status: Option<i32>,
        #[serde(default)]
        pub duration_ms: Option<u64>,
        #[serde(default)]
        pub still_running: bool,
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> T {
    rmp_serde::from_slice(bytes).expect("decodes")
}

/// Current → v1 → current gives back the original: v1 reads every field the current types write,
/// and the current types read what v1 writes.
fn through_v1<Current, Old>(items: Vec<Current>)
where
    Current: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    Old: Serialize + DeserializeOwned + std::fmt::Debug,
{
    for item in items {
        let old: Old = decode(&encode_body(&item).expect("encode current"));
        let back: Current = decode(&encode_body(&old).expect("encode v1"));
        assert_eq!(back, item, "via v1: {old:?}");
    }
}

#[test]
fn compat_v1_reader_and_writer_agree_with_current_envelopes() {
    through_v1::<Envelope, v1::Envelope>(common::envelopes());
}

#[test]
fn compat_v1_reader_and_writer_agree_with_current_requests() {
    through_v1::<Request, v1::Request>(common::requests());
}

#[test]
fn compat_v1_reader_and_writer_agree_with_current_replies() {
    through_v1::<Reply, v1::Reply>(common::replies());
}

#[test]
fn compat_v1_reader_and_writer_agree_with_current_hellos() {
    for hello in common::hellos() {
        let old: v1::Hello = decode(&encode_body(&hello).expect("encode"));
        assert_eq!(old.magic, hello.magic);
        let back: Hello = decode(&encode_body(&old).expect("encode v1"));
        assert_eq!(back, hello);
    }
}

/// What a 1.1 agent might send: an extra field on the envelope and a new event kind.
mod v1_1_writer {
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct Envelope {
        pub seq: u64,
        pub at_ms: u64,
        pub elapsed_ms: u64,
        pub event: Event,
        pub host_tag: String,
    }
    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Event {
        UnitProgress { unit: String, percent: u8 },
    }
}

fn newer_envelope() -> v1_1_writer::Envelope {
    v1_1_writer::Envelope {
        seq: 3,
        at_ms: 1,
        elapsed_ms: 2,
        event: v1_1_writer::Event::UnitProgress {
            unit: "restic-backup-plex.service".into(),
            percent: 40,
        },
        host_tag: "rack-2".into(),
    }
}

/// `Reply::Event` as a 1.1 agent would frame it.
#[derive(Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum NewerReply {
    Event(v1_1_writer::Envelope),
}

#[test]
fn compat_current_reader_survives_a_newer_field_and_event_kind() {
    let read: Envelope = decode(&encode_body(&newer_envelope()).expect("encode"));
    assert_eq!(read.seq, 3);
    assert_eq!(read.event, backup_orchestrator_proto::Event::Unknown);

    let reply: Reply = decode(&encode_body(&NewerReply::Event(newer_envelope())).expect("encode"));
    assert!(
        matches!(reply, Reply::Event(e) if e.event == backup_orchestrator_proto::Event::Unknown)
    );
}

#[test]
fn compat_first_release_reader_sees_the_events_added_since_as_unknown() {
    for event in common::events_added_since_first_release() {
        let envelope = Envelope {
            seq: 7,
            at_ms: 1,
            elapsed_ms: 2,
            event,
        };
        let old: v1::Envelope = decode(&encode_body(&envelope).expect("encode"));
        assert_eq!((old.seq, old.event), (7, v1::Event::Unknown));
    }
}

#[test]
fn compat_older_reader_sees_unknown_for_a_newer_request() {
    #[derive(Serialize)]
    #[serde(tag = "request", rename_all = "snake_case")]
    enum NewerRequest {
        Upgrade { to: String },
    }
    let bytes = encode_body(&NewerRequest::Upgrade { to: "0.2.0".into() }).expect("encode");
    assert_eq!(decode::<Request>(&bytes), Request::Unknown);
    assert_eq!(decode::<v1::Request>(&bytes), v1::Request::Unknown);
}

#[test]
fn compat_newer_hello_with_unknown_role_and_extra_fields_still_decodes() {
    #[derive(Serialize)]
    struct FutureHello {
        magic: &'static str,
        protocol: v1::ProtocolVersion,
        software: &'static str,
        role: &'static str,
        capabilities: Vec<&'static str>,
        compression: &'static str,
    }
    let bytes = encode_body(&FutureHello {
        magic: backup_orchestrator_proto::hello::MAGIC,
        protocol: v1::ProtocolVersion { major: 2, minor: 0 },
        software: "backup-orchestrator 2.0.0",
        role: "relay",
        capabilities: vec!["run", "zstd"],
        compression: "zstd",
    })
    .expect("encode");
    let hello: Hello = decode(&bytes);
    assert_eq!(hello.protocol.major, 2);
    assert_eq!(hello.role, backup_orchestrator_proto::Role::Unknown);
    let ours = Hello::new(
        backup_orchestrator_proto::Role::Controller,
        "backup-orchestrator-ctl 0.1.0",
    );
    let err = hello.check_compatible(&ours).expect_err("major 2 vs 1");
    assert!(
        err.to_string()
            .contains("protocol 2.0 (backup-orchestrator 2.0.0)"),
        "{err}"
    );
}

#[test]
fn compat_v1_reader_sees_unknown_for_the_1_1_requests_and_replies() {
    for request in common::requests_1_1() {
        let bytes = encode_body(&request).expect("encode");
        assert_eq!(
            decode::<v1::Request>(&bytes),
            v1::Request::Unknown,
            "{request:?}"
        );
    }
    for reply in common::replies_1_1() {
        let bytes = encode_body(&reply).expect("encode");
        let old: v1::Reply = decode(&bytes);
        if let Reply::Refused(_) = reply {
            // A refusal of a new kind is still a refusal with its message and exit code.
            assert!(
                matches!(&old, v1::Reply::Refused(r) if r.kind == "not_in_plan" && r.exit_code == 64),
                "{old:?}"
            );
        } else {
            assert!(matches!(old, v1::Reply::Unknown), "{old:?}");
        }
    }
}

#[test]
fn compat_v1_reader_ignores_a_failed_units_journal_lines() {
    let current = common::unit_finished_with_journal();
    let old: v1::Envelope = decode(&encode_body(&current).expect("encode"));
    let back: Envelope = decode(&encode_body(&old).expect("encode v1"));
    let mut expected = current;
    if let backup_orchestrator_proto::Event::UnitFinished(f) = &mut expected.event {
        f.journal.clear();
    }
    assert_eq!(back, expected);

    let summary = common::summary_with_journal();
    let old: v1::Summary = decode(&encode_body(&summary).expect("encode"));
    let back: backup_orchestrator_proto::Summary = decode(&encode_body(&old).expect("encode v1"));
    assert_eq!(back, common::summary());
}
