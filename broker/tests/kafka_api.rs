//! Kafka-API semantics through a cluster in this process (`common::in_process`): what a
//! client sees of produce, fetch offsets and admin changes, with no kcat and no child
//! processes.

mod common;

use brook_client::{ConfigChange, NewTopic, OffsetSpec};
use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{ProduceRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use bytes::Bytes;
use common::batch;
use common::in_process::InProcess;

/// A Produce of one record set to partition 0 of `topic`, `acks=1`; the partition's
/// error code and base offset.
async fn produce(cluster: &InProcess, topic: &str, records: Vec<u8>) -> (i16, i64) {
    let connection = cluster.connection().await;
    let version = connection.version(ApiKey::Produce, 3, 11).unwrap();
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(records))),
                ]),
        ]);
    let ResponseKind::Produce(answer) = connection
        .call(ApiKey::Produce, version, RequestKind::Produce(request))
        .await
        .unwrap()
    else {
        panic!("not a Produce response");
    };
    let partition = &answer.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

/// As [`produce`], retrying while the new topic's partition gets its leader here: the
/// broker applies a new topic to its replicas a moment after its metadata shows it (as
/// Kafka's does), and clients retry `NOT_LEADER_OR_FOLLOWER`.
async fn produce_to_new_topic(cluster: &InProcess, topic: &str, records: Vec<u8>) -> (i16, i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = produce(cluster, topic, records.clone()).await;
        if answer.0 != ErrorCode::NotLeaderOrFollower.code() || std::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn log_end(cluster: &InProcess, topic: &str) -> i64 {
    let key = (topic.to_owned(), 0);
    let ends = cluster
        .client
        .list_offsets(std::slice::from_ref(&key), OffsetSpec::Latest)
        .await
        .unwrap();
    ends[&key]
}

fn one_partition(name: &str) -> NewTopic {
    NewTopic {
        partitions: 1,
        ..NewTopic::new(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_get_dense_offsets_and_a_corrupt_one_is_refused_and_changes_nothing() {
    let cluster = InProcess::start(&[]).await;
    cluster.client.create_topic(&one_partition("orders")).await.unwrap();
    let (code, first) = produce_to_new_topic(&cluster, "orders", batch(5, 20, 0)).await;
    assert_eq!(code, 0);
    let mut bases = vec![first];
    for i in 1..3 {
        let (code, base) = produce(&cluster, "orders", batch(5, 20, i)).await;
        assert_eq!(code, 0);
        bases.push(base);
    }
    assert_eq!(bases, [0, 5, 10], "each batch starts where the last ended");

    let mut corrupt = batch(5, 20, 0);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff; // inside the CRC-32C's range
    let (code, base) = produce(&cluster, "orders", corrupt).await;
    assert_eq!((code, base), (ErrorCode::CorruptMessage.code(), -1));
    assert_eq!(log_end(&cluster, "orders").await, 15, "the corrupt batch wrote nothing");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_admin_change_is_visible_to_the_very_next_request() {
    let cluster = InProcess::start(&[]).await;
    let client = &cluster.client;
    let names = ["grows".to_owned()];
    client.create_topic(&one_partition("grows")).await.unwrap();
    // No retries between the change and the look: the answer waited for the metadata.
    assert_eq!(client.existing_topics(&names).await.unwrap()[0].partitions.len(), 1);
    client.add_partitions("grows", 4).await.unwrap();
    assert_eq!(client.existing_topics(&names).await.unwrap()[0].partitions.len(), 4);
    let retention = ConfigChange::Set("retention.ms".into(), "60000".into());
    client.alter_topic_configs("grows", &[retention]).await.unwrap();
    let configs = client.describe_topic_configs("grows").await.unwrap();
    let retention = configs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(
        (retention.value.as_deref(), retention.source),
        (Some("60000"), "DYNAMIC_TOPIC_CONFIG")
    );
    client.delete_topic("grows").await.unwrap();
    assert!(client.existing_topics(&names).await.unwrap().is_empty());
    cluster.shutdown().await;
}
