//! Every message survives encode → frame → decode unchanged.

mod common;

use backup_orchestrator_proto::codec::MessageCodec;
use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tokio_util::codec::{Decoder, Encoder};

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + Debug + Clone>(items: Vec<T>) {
    assert!(!items.is_empty());
    let mut codec = MessageCodec::<T>::new();
    let mut buf = BytesMut::new();
    for item in &items {
        codec.encode(item.clone(), &mut buf).expect("encode");
    }
    for item in &items {
        let decoded = codec
            .decode(&mut buf)
            .expect("decode")
            .expect("a whole frame");
        assert_eq!(&decoded, item);
    }
    assert!(buf.is_empty());
    assert!(codec.decode_eof(&mut buf).expect("clean end").is_none());
}

#[test]
fn roundtrip_preserves_every_event() {
    roundtrip(common::envelopes());
}

#[test]
fn roundtrip_preserves_the_events_added_since_the_first_release() {
    let envelopes = common::events_added_since_first_release()
        .into_iter()
        .enumerate()
        .map(|(seq, event)| backup_orchestrator_proto::Envelope {
            seq: seq as u64,
            at_ms: 1,
            elapsed_ms: 2,
            event,
        })
        .collect();
    roundtrip(envelopes);
}

#[test]
fn roundtrip_preserves_every_request() {
    roundtrip(common::requests());
}

#[test]
fn roundtrip_preserves_every_reply() {
    roundtrip(common::replies());
}

#[test]
fn roundtrip_preserves_the_1_1_requests_replies_and_journal_lines() {
    roundtrip(common::requests_1_1());
    roundtrip(common::replies_1_1());
    roundtrip(vec![common::unit_finished_with_journal()]);
    roundtrip(vec![common::summary_with_journal()]);
}

#[test]
fn summary_json_has_journal_only_for_units_that_carry_lines() {
    let json = serde_json::to_value(common::summary_with_journal()).expect("json");
    assert!(json["units"][0].get("journal").is_none(), "{json}");
    assert_eq!(
        json["units"][1]["journal"],
        serde_json::json!(["syncoid: replication failed"])
    );
}

#[test]
fn roundtrip_preserves_hellos() {
    roundtrip(common::hellos());
}

#[test]
fn summary_json_starts_with_the_user_scripts_keys() {
    let json = serde_json::to_string(&common::summary()).expect("json");
    assert!(
        json.starts_with(
            r#"{"total_services":15,"successful":14,"failed":1,"timed_out":0,"skipped":0,"failure_rate_percent":6,"exit_code":1,"#
        ),
        "{json}"
    );
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid json");
    assert_eq!(value["units"][1]["outcome"], "failed");
    assert_eq!(value["units"][1]["exit_status"], 1);
}
