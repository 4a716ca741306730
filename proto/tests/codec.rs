//! The frame decoder against what a real stream can carry: text from sudo or a shell, garbage,
//! hostile lengths, truncation, and valid streams split at every byte.

mod common;

use backup_orchestrator_proto::codec::{FrameError, MAX_FRAME_LEN, MessageCodec, encode_frame};
use backup_orchestrator_proto::{Envelope, Hello};
use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn valid_stream() -> (Vec<Envelope>, Vec<u8>) {
    let envelopes = common::envelopes();
    let bytes = envelopes
        .iter()
        .flat_map(|e| encode_frame(e).expect("encode"))
        .collect();
    (envelopes, bytes)
}

/// Feeds `chunks` one after the other, then signals EOF; returns what was decoded or the error.
fn decode_chunks(chunks: &[&[u8]]) -> Result<Vec<Envelope>, FrameError> {
    let mut codec = MessageCodec::<Envelope>::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf)? {
            out.push(item);
        }
        assert!(buf.capacity() <= MAX_FRAME_LEN + 4 + chunk.len() + 8192);
    }
    while let Some(item) = codec.decode_eof(&mut buf)? {
        out.push(item);
    }
    Ok(out)
}

#[test]
fn decoder_reports_sudo_password_text_as_text() {
    let err = decode_chunks(&[b"sudo: a password is required\n"]).unwrap_err();
    match err {
        FrameError::UnexpectedText { text } => assert_eq!(text, "sudo: a password is required"),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn decoder_waits_for_the_end_of_a_text_line_split_across_reads() {
    let err = decode_chunks(&[b"bash: backup-orch", b"estrator: command not found\n"]).unwrap_err();
    assert!(
        matches!(&err, FrameError::UnexpectedText { text } if text == "bash: backup-orchestrator: command not found"),
        "{err:?}"
    );
}

#[test]
fn decoder_reports_text_without_newline_at_eof() {
    let err = decode_chunks(&[b"Permission denied"]).unwrap_err();
    assert!(
        matches!(&err, FrameError::UnexpectedText { text } if text == "Permission denied"),
        "{err:?}"
    );
}

#[test]
fn decoder_reports_binary_garbage_with_a_preview() {
    let err = decode_chunks(&[&[0xff, 0x00, 0x13, 0x37]]).unwrap_err();
    assert!(
        matches!(&err, FrameError::Garbage { preview } if preview.starts_with("ff 00 13 37")),
        "{err:?}"
    );
}

#[test]
fn decoder_refuses_a_length_above_the_maximum_before_reading_the_body() {
    let too_big = u32::try_from(MAX_FRAME_LEN + 1)
        .expect("fits")
        .to_be_bytes();
    let mut codec = MessageCodec::<Envelope>::new();
    let mut buf = BytesMut::from(&too_big[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(matches!(err, FrameError::TooLarge { len, .. } if len == MAX_FRAME_LEN + 1));
    assert!(
        buf.capacity() < 1024,
        "reserved {} bytes for a refused frame",
        buf.capacity()
    );
}

#[test]
fn decoder_reports_truncation_inside_a_frame() {
    let (_, bytes) = valid_stream();
    let err = decode_chunks(&[&bytes[..bytes.len() - 3]]).unwrap_err();
    assert!(matches!(err, FrameError::Truncated { .. }), "{err:?}");
}

#[test]
fn decoder_ends_cleanly_at_eof_between_frames() {
    let (envelopes, bytes) = valid_stream();
    assert_eq!(decode_chunks(&[&bytes]).expect("decodes"), envelopes);
    assert_eq!(decode_chunks(&[]).expect("empty stream"), vec![]);
}

#[test]
fn decoder_reports_a_frame_of_the_wrong_type_as_a_decode_error() {
    let hello =
        encode_frame(&Hello::new(backup_orchestrator_proto::Role::Agent, "x")).expect("encode");
    let err = decode_chunks(&[&hello]).unwrap_err();
    assert!(matches!(err, FrameError::Decode { .. }), "{err:?}");
}

#[test]
fn decoder_reassembles_a_stream_split_at_every_byte_boundary() {
    let (envelopes, bytes) = valid_stream();
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        assert_eq!(
            decode_chunks(&[a, b]).expect("decodes"),
            envelopes,
            "split at {split}"
        );
    }
}

proptest! {
    #[test]
    fn decoder_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = decode_chunks(&[&bytes]);
    }

    #[test]
    fn decoder_never_panics_on_random_bytes_after_a_valid_frame(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let (_, valid) = valid_stream();
        let _ = decode_chunks(&[&valid, &bytes]);
    }

    #[test]
    fn decoder_reassembles_random_splits(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        let (envelopes, bytes) = valid_stream();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&bytes[start..p]);
            start = p;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(decode_chunks(&chunks).expect("decodes"), envelopes);
    }
}
