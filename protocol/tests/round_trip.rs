//! Every API in the ApiVersions table, at every version Brook accepts, survives
//! encode → frame → decode as a request and as a response.

use brook_protocol::api::SUPPORTED_APIS;
use brook_protocol::codec::{decode_request, decode_response, encode_request, encode_response};
use brook_protocol::frame::FrameDecoder;
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::*;
use brook_protocol::records::{BatchBuilder, Compression};
use brook_protocol::{ApiKey, StrBytes};
use bytes::{Bytes, BytesMut};
use common::{default_request, default_response};

mod common;

fn take_frame(buf: &mut BytesMut) -> Bytes {
    let frame = FrameDecoder::default().decode(buf).unwrap().expect("a whole frame");
    assert!(buf.is_empty(), "one frame, nothing after it");
    frame
}

fn request_round_trip(key: ApiKey, version: i16, body: RequestKind) {
    let header = RequestHeader::new(
        key,
        version,
        i32::from(version) * 1000 + 7,
        Some(StrBytes::from_static_str("rt")),
    );
    let mut buf = BytesMut::new();
    encode_request(&mut buf, &header, &body).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
    let decoded = decode_request(&take_frame(&mut buf)).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
    assert_eq!(decoded.header, header, "{key:?} v{version}");
    assert_eq!(decoded.body, body, "{key:?} v{version}");
}

fn response_round_trip(key: ApiKey, version: i16, body: ResponseKind) {
    let mut buf = BytesMut::new();
    encode_response(&mut buf, key, version, 99, &body).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
    let (correlation_id, decoded) =
        decode_response(&take_frame(&mut buf), key, version).unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
    assert_eq!(correlation_id, 99);
    assert_eq!(decoded, body, "{key:?} v{version}");
}

#[test]
fn every_supported_api_and_version_round_trips() {
    let mut checked = 0;
    for api in SUPPORTED_APIS {
        for version in api.min_version..=api.max_version {
            request_round_trip(api.key, version, default_request(api.key));
            response_round_trip(api.key, version, default_response(api.key));
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} api versions checked");
}

fn sample_records() -> Bytes {
    let mut builder = BatchBuilder::new(Compression::None);
    builder.append(1_700_000_000_000, Some(b"k"), Some(b"value"), &[]);
    let mut out = BytesMut::new();
    builder.build_into(&mut out).unwrap();
    out.freeze()
}

#[test]
fn populated_hot_path_messages_round_trip() {
    use fetch_response::{FetchableTopicResponse, PartitionData};
    use metadata_response::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
    use produce_request::{PartitionProduceData, TopicProduceData};

    let topic = || TopicName(StrBytes::from_static_str("orders"));
    for version in 3..=12 {
        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(1500)
            .with_topic_data(vec![
                TopicProduceData::default().with_name(topic()).with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(3)
                        .with_records(Some(sample_records())),
                ]),
            ]);
        request_round_trip(ApiKey::Produce, version, RequestKind::Produce(produce));
    }
    for version in 4..=12 {
        let fetch = FetchResponse::default().with_responses(vec![
            FetchableTopicResponse::default()
                .with_topic(topic())
                .with_partitions(vec![
                    PartitionData::default()
                        .with_partition_index(3)
                        .with_high_watermark(10)
                        .with_last_stable_offset(10)
                        .with_records(Some(sample_records())),
                ]),
        ]);
        response_round_trip(ApiKey::Fetch, version, ResponseKind::Fetch(fetch));
    }
    for version in 1..=12 {
        let metadata = MetadataResponse::default()
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(9092),
            ])
            .with_controller_id(BrokerId(1))
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(topic()))
                    .with_partitions(vec![
                        MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(1))
                            .with_replica_nodes(vec![BrokerId(1)])
                            .with_isr_nodes(vec![BrokerId(1)]),
                    ]),
            ]);
        response_round_trip(ApiKey::Metadata, version, ResponseKind::Metadata(metadata));
    }
}

#[test]
fn api_versions_v3_writes_no_default_tagged_fields() {
    // librdkafka 2.0.x fails with "Read underflow" when the ApiVersions v3 response
    // carries tagged fields holding their defaults (docs/architecture.md).
    let mut buf = BytesMut::new();
    let body = ResponseKind::ApiVersions(brook_protocol::api::api_versions_response(None));
    encode_response(&mut buf, ApiKey::ApiVersions, 3, 1, &body).unwrap();
    // Header v0 (correlation id only), ... , throttle_time_ms, then an empty tag section.
    assert_eq!(buf.last(), Some(&0u8), "the body must end with zero tagged fields");
    assert_eq!(
        &buf[4..8],
        &1i32.to_be_bytes(),
        "ApiVersions responses use header v0: no tag byte"
    );
}

#[test]
fn api_versions_v3_and_v4_carry_the_features() {
    let response = brook_protocol::api::with_features(brook_protocol::api::api_versions_response(None), 42);
    for version in 3..=4 {
        response_round_trip(
            ApiKey::ApiVersions,
            version,
            ResponseKind::ApiVersions(response.clone()),
        );
    }
    let names: Vec<&str> = response.supported_features.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"metadata.version") && names.contains(&"transaction.version"),
        "{names:?}"
    );
    assert_eq!(response.finalized_features_epoch, 42);
    // Only what is in force is finalized; transactions are not, until Brook has them.
    let finalized: Vec<&str> = response.finalized_features.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(finalized, ["metadata.version"]);
}
