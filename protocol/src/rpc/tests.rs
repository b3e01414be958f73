use bytes::BytesMut;
use uuid::Uuid;

use super::metadata::*;
use super::*;
use crate::frame::FrameDecoder;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(message: &T) {
    let mut buf = BytesMut::new();
    encode_frame(&mut buf, message).unwrap();
    let frame = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    assert_eq!(&decode::<T>(&frame).unwrap(), message);
}

fn partition(partition: i32) -> PartitionState {
    PartitionState {
        partition,
        replicas: vec![1, 2, 3],
        isr: vec![1, 2, 3],
        leader: 1,
        leader_epoch: 0,
        partition_epoch: 0,
    }
}

#[test]
fn requests_and_responses_round_trip() {
    let topic_id = Uuid::new_v4();
    let requests = [
        ControllerRequest::RegisterBroker(RegisterBroker {
            broker_id: 1,
            incarnation_id: Uuid::new_v4(),
            cluster_id: None,
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
            }],
            rack: Some("a".into()),
            log_dirs: vec![],
        }),
        ControllerRequest::WatchMetadata {
            broker_id: 1,
            since_version: 42,
        },
        ControllerRequest::AlterPartition(AlterPartition {
            broker_id: 1,
            broker_epoch: 7,
            changes: vec![IsrChange {
                topic_id,
                partition: 0,
                leader_epoch: 1,
                partition_epoch: 2,
                new_isr: vec![1, 2],
            }],
        }),
        ControllerRequest::Raft(RaftMessage::AppendEntries(vec![1, 2, 3])),
    ];
    for (i, body) in requests.into_iter().enumerate() {
        round_trip(&RpcRequest {
            rpc_version: RPC_VERSION,
            correlation_id: i as u64,
            body,
        });
    }
    let image = MetadataImage {
        version: 9,
        cluster_id: Some(Uuid::new_v4()),
        topics: [(
            topic_id,
            TopicState {
                topic_id,
                name: "t".into(),
                configs: Default::default(),
                partitions: vec![partition(0)],
            },
        )]
        .into(),
        ..Default::default()
    };
    for body in [
        Ok(ControllerResponse::Metadata(MetadataUpdate::Snapshot(image))),
        Err(RpcError::NotController {
            leader: Some(ControllerAddress {
                node_id: 2,
                host: "127.0.0.2".into(),
                port: 9093,
            }),
        }),
    ] {
        round_trip(&RpcResponse {
            correlation_id: 5,
            body,
        });
    }
}

#[test]
fn hostile_frames_are_errors() {
    // A sequence claiming u32::MAX elements in a 6-byte frame.
    let frame = Bytes::from_static(&[0x01, 0x00, 0x0f, 0xff, 0xff, 0xff]);
    assert!(decode::<RpcRequest>(&frame).is_err());
    assert!(decode::<RpcResponse>(&Bytes::new()).is_err());
    let mut trailing = BytesMut::new();
    encode_frame(
        &mut trailing,
        &RpcRequest {
            rpc_version: 1,
            correlation_id: 1,
            body: ControllerRequest::DescribeQuorum,
        },
    )
    .unwrap();
    trailing.extend_from_slice(b"junk");
    let mut body = trailing.split_off(4).freeze();
    body.truncate(body.len());
    assert!(decode::<RpcRequest>(&body).is_err());
}

#[test]
fn image_follows_records_and_ignores_replays() {
    let topic_id = Uuid::new_v4();
    let broker = BrokerRegistration {
        broker_id: 1,
        incarnation_id: Uuid::new_v4(),
        broker_epoch: 10,
        endpoints: vec![],
        rack: None,
        fenced: true,
        log_dirs: vec![],
    };
    let mut moved = partition(0);
    moved.leader = 2;
    moved.leader_epoch = 1;
    let records = [
        MetadataRecord::RegisterBroker(broker),
        MetadataRecord::UnfenceBroker {
            broker_id: 1,
            broker_epoch: 10,
        },
        // A fence for an older incarnation does nothing.
        MetadataRecord::FenceBroker {
            broker_id: 1,
            broker_epoch: 3,
        },
        MetadataRecord::CreateTopic(TopicState {
            topic_id,
            name: "t".into(),
            configs: Default::default(),
            partitions: vec![partition(0)],
        }),
        MetadataRecord::AddPartitions {
            topic_id,
            partitions: vec![partition(1)],
        },
        MetadataRecord::ChangePartition {
            topic_id,
            state: moved.clone(),
        },
        MetadataRecord::SetTopicConfig {
            topic_id,
            key: "retention.ms".into(),
            value: Some("1000".into()),
        },
    ];
    let mut image = MetadataImage::default();
    for (i, record) in records.iter().enumerate() {
        image.apply(&VersionedRecord {
            version: i as u64 + 1,
            record: record.clone(),
        });
    }
    // Replaying an old version changes nothing.
    image.apply(&VersionedRecord {
        version: 2,
        record: MetadataRecord::DeleteTopic { topic_id },
    });
    assert_eq!(image.version, 7);
    assert!(!image.brokers[&1].fenced);
    let topic = image.topic_by_name("t").unwrap();
    assert_eq!(topic.partitions, vec![moved, partition(1)]);
    assert_eq!(topic.configs["retention.ms"], "1000");
}

#[test]
fn failed_encoding_leaves_the_buffer_as_it_was() {
    struct Unserializable;
    impl Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refuses to serialize"))
        }
    }
    let mut buf = BytesMut::from(&b"earlier frame"[..]);
    assert!(encode_frame(&mut buf, &Unserializable).is_err());
    assert_eq!(&buf[..], b"earlier frame");
}
