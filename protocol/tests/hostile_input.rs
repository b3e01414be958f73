//! Requests built to make a decoder allocate, loop or panic get an error instead.
//!
//! Without the bound in third_party/kafka-protocol (see BROOK-PATCH.md) the first test
//! aborts the whole test process on a multi-gigabyte allocation.

use brook_protocol::api::SUPPORTED_APIS;
use brook_protocol::codec::{RequestError, decode_request, encode_request};
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::*;
use brook_protocol::{ApiKey, ErrorCode};
use bytes::{BufMut, Bytes, BytesMut};
use common::default_request;

mod common;

/// The fixed request header fields: api key, version, correlation id 1, null client id.
fn header_v1(api_key: i16, version: i16) -> BytesMut {
    let mut frame = BytesMut::new();
    frame.put_i16(api_key);
    frame.put_i16(version);
    frame.put_i32(1);
    frame.put_i16(-1);
    frame
}

fn refused(frame: &[u8]) -> ErrorCode {
    match decode_request(&Bytes::copy_from_slice(frame)) {
        Err(RequestError::Refused { error, .. }) => error.error_code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn huge_array_counts_are_refused_without_allocating() {
    // Metadata v0, correlation id, null client id, then a topic array of i32::MAX entries.
    let mut frame = header_v1(3, 0);
    frame.put_i32(i32::MAX);
    assert_eq!(refused(&frame), ErrorCode::InvalidRequest);

    // Metadata v12 (flexible): a compact array claiming u32::MAX - 1 entries.
    let mut frame = header_v1(3, 12);
    frame.put_u8(0); // header tagged fields
    frame.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(refused(&frame), ErrorCode::InvalidRequest);
}

/// For every API and version, plant a maximal count (both encodings) at every position of
/// a real request body: whatever field it lands in, decoding must end in a value or an error.
#[test]
fn maximal_counts_anywhere_in_any_request_never_abort() {
    let huge_i32 = i32::MAX.to_be_bytes();
    let huge_varint = [0xffu8, 0xff, 0xff, 0xff, 0x0f];
    let mut decoded = 0;
    for api in SUPPORTED_APIS {
        for version in api.min_version..=api.max_version {
            let header = RequestHeader::new(api.key, version, 1, None);
            let body = populated_request(api.key);
            let mut frame = BytesMut::new();
            if encode_request(&mut frame, &header, &body).is_err() {
                // Populated fields may not exist in old versions; the default always encodes.
                frame.clear();
                encode_request(&mut frame, &header, &default_request(api.key)).expect("default request encodes");
            }
            let frame = frame.split_off(4);
            for at in 8..frame.len() {
                for pattern in [&huge_i32[..], &huge_varint[..]] {
                    let mut hostile = frame.clone();
                    let end = (at + pattern.len()).min(hostile.len());
                    hostile[at..end].copy_from_slice(&pattern[..end - at]);
                    let _ = decode_request(&hostile.freeze());
                    decoded += 1;
                }
            }
        }
    }
    assert!(decoded > 1000, "only {decoded} hostile frames tried");
}

/// A request with non-empty arrays where the API has them, so counts sit in real places.
fn populated_request(key: ApiKey) -> RequestKind {
    let name = || TopicName(brook_protocol::StrBytes::from_static_str("t"));
    match key {
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name())),
        ]))),
        ApiKey::Produce => RequestKind::Produce(ProduceRequest::default().with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(name())
                .with_partition_data(vec![produce_request::PartitionProduceData::default()]),
        ])),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default().with_name(name()).with_configs(vec![
                create_topics_request::CreatableTopicConfig::default(),
            ]),
        ])),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default().with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(name())
                .with_partitions(vec![offset_commit_request::OffsetCommitRequestPartition::default()]),
        ])),
        ApiKey::DescribeLogDirs => {
            RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(Some(vec![
            describe_log_dirs_request::DescribableLogDirTopic::default()
                .with_topic(name())
                .with_partitions(vec![0, 1]),
        ])))
        }
        ApiKey::DescribeTopicPartitions => {
            RequestKind::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default().with_topics(vec![
                describe_topic_partitions_request::TopicRequest::default().with_name(name()),
            ]))
        }
        ApiKey::JoinGroup => RequestKind::JoinGroup(
            JoinGroupRequest::default().with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()]),
        ),
        other => default_request(other),
    }
}

#[test]
fn oversized_strings_and_bytes_are_refused() {
    // SaslAuthenticate v0: auth bytes claiming 2 GiB in a 4-byte body.
    let mut frame = header_v1(36, 0);
    frame.put_i32(i32::MAX);
    assert_eq!(refused(&frame), ErrorCode::InvalidRequest);
}
