//! Request frames recorded from real clients (librdkafka 2.0.2 and 2.16, kafka-python,
//! aiokafka) decode, re-encode to the same bytes, and carry record batches Brook accepts.

use std::collections::BTreeSet;

use brook_protocol::codec::{RequestError, decode_request, encode_request};
use brook_protocol::frame::FrameDecoder;
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::RequestKind;
use brook_protocol::records::{BatchView, Batches, Compression, validate_record_set};
use brook_protocol::{ErrorCode, ProtocolError};
use brook_tests::{GoldenFrame, golden_frames};
use bytes::BytesMut;

fn whole_frame(golden: &GoldenFrame) -> bytes::Bytes {
    let mut buf = BytesMut::from(&golden.bytes[..]);
    let frame = FrameDecoder::default()
        .decode(&mut buf)
        .unwrap()
        .expect("complete frame");
    assert!(buf.is_empty(), "{}: bytes after the frame", golden.name);
    frame
}

#[test]
fn all_recorded_frames_are_present() {
    let frames = golden_frames();
    assert_eq!(frames.len(), 132);
    let clients: BTreeSet<&str> = frames.iter().map(|f| f.client.as_str()).collect();
    assert_eq!(
        clients,
        BTreeSet::from([
            "aiokafka-0.14.0",
            "confluent-kafka-2.16.1",
            "kafka-python-3.0.12",
            "kcat-librdkafka-2.0.2"
        ])
    );
}

#[test]
fn supported_frames_decode_and_reencode_byte_for_byte() {
    let mut decoded = 0;
    for golden in golden_frames() {
        let frame = whole_frame(&golden);
        let (header, _) = RequestHeader::parse(&frame).unwrap();
        assert_eq!(
            (header.api_key, header.api_version),
            (golden.api_key, golden.api_version),
            "{}",
            golden.name
        );
        match decode_request(&frame) {
            Ok(request) => {
                let mut reencoded = BytesMut::new();
                encode_request(&mut reencoded, &request.header, &request.body).unwrap();
                assert_eq!(
                    &reencoded[..],
                    &golden.bytes[..],
                    "{} does not re-encode canonically",
                    golden.name
                );
                decoded += 1;
            }
            // GetTelemetrySubscriptions (KIP-714): librdkafka 2.16 sends it only to brokers
            // that advertise it; Brook does not, and refuses it cleanly.
            Err(RequestError::Refused { header, error }) if golden.api_key == 71 => {
                assert_eq!(error, ProtocolError::UnsupportedApi(71));
                assert_eq!(error.error_code(), ErrorCode::UnsupportedVersion);
                assert!(header.correlation_id >= 0);
            }
            Err(e) => panic!("{}: {e}", golden.name),
        }
    }
    assert!(decoded >= 110, "only {decoded} frames decoded");
}

#[test]
fn produced_record_sets_validate_with_every_codec() {
    let mut codecs = BTreeSet::new();
    let mut records = 0;
    for golden in golden_frames().iter().filter(|f| f.api_key == 0) {
        let request = decode_request(&whole_frame(golden)).unwrap();
        let RequestKind::Produce(produce) = request.body else {
            panic!("{} is not a Produce request", golden.name)
        };
        for topic in &produce.topic_data {
            for partition in &topic.partition_data {
                let set = partition.records.as_ref().expect("records");
                let summary = validate_record_set(set).unwrap_or_else(|e| panic!("{}: {e}", golden.name));
                for batch in Batches::new(set) {
                    let batch: BatchView<'_> = batch.unwrap();
                    codecs.insert(batch.compression().unwrap().name());
                    let payload = batch.records_payload(1 << 20).unwrap();
                    for record in batch.records(&payload) {
                        let record = record.unwrap_or_else(|e| panic!("{}: {e}", golden.name));
                        assert!(record.value.is_some(), "{}: clients sent values", golden.name);
                        records += 1;
                    }
                }
                assert!(summary.records > 0);
            }
        }
    }
    let expected: BTreeSet<&str> = Compression::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(codecs, expected, "the recording covers every codec");
    assert!(records >= 20, "only {records} records read");
}

/// Every single-byte corruption of every recorded frame decodes to a value or an error.
#[test]
fn corrupted_recorded_frames_never_panic() {
    let mut tried = 0;
    for golden in golden_frames() {
        let frame = whole_frame(&golden);
        for at in 0..frame.len() {
            for value in [0x00u8, 0xff, 0x7f, 0x80, frame[at] ^ 0x01] {
                let mut corrupt = BytesMut::from(&frame[..]);
                corrupt[at] = value;
                let corrupt = corrupt.freeze();
                if let Ok(request) = decode_request(&corrupt)
                    && let RequestKind::Produce(produce) = request.body
                {
                    for partition in produce.topic_data.iter().flat_map(|t| &t.partition_data) {
                        if let Some(set) = &partition.records {
                            let _ = validate_record_set(set);
                        }
                    }
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 50_000, "only {tried} corruptions tried");
}
