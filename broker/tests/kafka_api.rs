//! Kafka-API semantics through a cluster in this process (`common::in_process`): what a
//! client sees of produce (dense offsets, corrupt batches, idempotent retries), offsets
//! by time, fetches around the log start and end, DeleteRecords and admin changes, with
//! no kcat and no child processes.

mod common;

use brook_client::{ConfigChange, NewTopic, OffsetSpec};
use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{BrokerId, ProduceRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use bytes::Bytes;
use common::in_process::InProcess;
use common::{batch, producer_batch};

/// A Produce of one record set to partition 0 of `topic`, `acks=1`; the partition's
/// error code and base offset.
async fn produce(cluster: &InProcess, topic: &str, records: Vec<u8>) -> (i16, i64) {
    let connection = cluster.connection().await;
    let version = connection.version(ApiKey::Produce, 3, 11).unwrap();
    let request = produce_request(topic, records, 1);
    produced(
        connection
            .call(ApiKey::Produce, version, RequestKind::Produce(request))
            .await
            .unwrap(),
    )
}

/// A Produce of one record set to partition 0 of `topic`.
fn produce_request(topic: &str, records: Vec<u8>, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(records))),
                ]),
        ])
}

/// The error code and base offset of a one-partition Produce answer.
fn produced(response: ResponseKind) -> (i16, i64) {
    let ResponseKind::Produce(answer) = response else {
        panic!("not a Produce response");
    };
    let partition = &answer.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
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

/// A broker tells clients of a leadership only once its log takes produces: the first
/// produce right after CreateTopics succeeds. (It once heard NOT_LEADER_OR_FOLLOWER
/// while the new log was still being created; an idempotent Java producer's next,
/// pipelined batch was then taken first, and its first batch failed as out of order.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_topic_takes_its_first_produce_as_soon_as_it_is_created() {
    let cluster = InProcess::start(&[]).await;
    for n in 0..20 {
        let topic = format!("fresh-{n}");
        cluster.client.create_topic(&one_partition(&topic)).await.unwrap();
        assert_eq!(produce(&cluster, &topic, batch(2, 10, 0)).await, (0, 0), "{topic}");
    }
}

/// `acks=all` produces pipelined on one connection: each is appended as it arrives
/// while those before it may still wait for replication, the answers come back in
/// request order with the offsets of that order, and a fetch sent behind them is
/// handled only once they are replicated, so it sees every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_acks_all_produces_are_answered_in_order_and_a_fetch_behind_them_sees_them_all() {
    let cluster = InProcess::start(&[]).await;
    cluster.client.create_topic(&one_partition("piped")).await.unwrap();
    let connection = cluster.connection().await;
    let version = connection.version(ApiKey::Produce, 3, 11).unwrap();
    let timeout = std::time::Duration::from_secs(10);
    let mut answers = Vec::new();
    for _ in 0..40 {
        let request = RequestKind::Produce(produce_request("piped", batch(3, 10, 0), -1));
        answers.push(
            connection
                .send(ApiKey::Produce, version, request, timeout)
                .await
                .unwrap(),
        );
    }
    let fetch = connection
        .send(
            ApiKey::Fetch,
            12,
            RequestKind::Fetch(fetch_request("piped", 0)),
            timeout,
        )
        .await
        .unwrap();
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(
            produced(answer.response().await.unwrap()),
            (0, 3 * i as i64),
            "produce {i}"
        );
    }
    let (code, high_watermark, _, bases) = fetched(fetch.response().await.unwrap());
    assert_eq!((code, high_watermark), (0, 120));
    assert_eq!(bases, (0..40).map(|i| 3 * i).collect::<Vec<i64>>());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_get_dense_offsets_and_a_corrupt_one_is_refused_and_changes_nothing() {
    let cluster = InProcess::start(&[]).await;
    cluster.client.create_topic(&one_partition("orders")).await.unwrap();
    let (code, first) = produce(&cluster, "orders", batch(5, 20, 0)).await;
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

/// `request` at the highest version both sides speak, up to `max`.
async fn call(cluster: &InProcess, api: ApiKey, max: i16, request: RequestKind) -> ResponseKind {
    let connection = cluster.connection().await;
    let version = connection.version(api, 0, max).unwrap();
    connection.call(api, version, request).await.unwrap()
}

/// ListOffsets of partition 0 of `topic` for `timestamp` (-1 latest, -2 earliest, -3
/// the largest timestamp); (error code, offset, timestamp).
async fn list_offset(cluster: &InProcess, topic: &str, timestamp: i64) -> (i16, i64, i64) {
    use brook_protocol::messages::ListOffsetsRequest;
    use brook_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(timestamp),
                ]),
        ]);
    let ResponseKind::ListOffsets(answer) =
        call(cluster, ApiKey::ListOffsets, 9, RequestKind::ListOffsets(request)).await
    else {
        panic!("not a ListOffsets response");
    };
    let p = &answer.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

/// DeleteRecords of partition 0 of `topic` below `offset`; (error code, low watermark).
async fn delete_records(cluster: &InProcess, topic: &str, offset: i64) -> (i16, i64) {
    use brook_protocol::messages::DeleteRecordsRequest;
    use brook_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
    let request = DeleteRecordsRequest::default().with_timeout_ms(5000).with_topics(vec![
        DeleteRecordsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![
                DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(offset),
            ]),
    ]);
    let ResponseKind::DeleteRecords(answer) =
        call(cluster, ApiKey::DeleteRecords, 2, RequestKind::DeleteRecords(request)).await
    else {
        panic!("not a DeleteRecords response");
    };
    let p = &answer.topics[0].partitions[0];
    (p.error_code, p.low_watermark)
}

/// What a consumer's Fetch of partition 0 of `topic` at `offset` gets: (error code,
/// high watermark, log start offset, base offsets of the batches returned).
async fn fetch(cluster: &InProcess, topic: &str, offset: i64) -> (i16, i64, i64, Vec<i64>) {
    // v12: topics by name (v13 and later name them by id).
    let response = call(
        cluster,
        ApiKey::Fetch,
        12,
        RequestKind::Fetch(fetch_request(topic, offset)),
    )
    .await;
    fetched(response)
}

/// A consumer's Fetch of partition 0 of `topic` from `offset`, answered at once.
fn fetch_request(topic: &str, offset: i64) -> brook_protocol::messages::FetchRequest {
    use brook_protocol::messages::FetchRequest;
    use brook_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ])
}

/// Error code, high watermark, log start and the batches' base offsets of a one-partition
/// Fetch answer.
fn fetched(response: ResponseKind) -> (i16, i64, i64, Vec<i64>) {
    use brook_protocol::records::Batches;
    let ResponseKind::Fetch(answer) = response else {
        panic!("not a Fetch response");
    };
    let p = &answer.responses[0].partitions[0];
    let records = p.records.clone().unwrap_or_default();
    let bases = Batches::new(&records).map(|b| b.unwrap().base_offset()).collect();
    (p.error_code, p.high_watermark, p.log_start_offset, bases)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_found_by_time_and_a_log_start_moved_by_delete_records_holds_for_reads() {
    let cluster = InProcess::start(&[]).await;
    cluster.client.create_topic(&one_partition("times")).await.unwrap();
    // Offsets 0-4 at 1000-1004 ms, 5-9 at 2000-2004, 10-14 at 3000-3004.
    assert_eq!(produce(&cluster, "times", batch(5, 10, 1000)).await, (0, 0));
    assert_eq!(produce(&cluster, "times", batch(5, 10, 2000)).await, (0, 5));
    assert_eq!(produce(&cluster, "times", batch(5, 10, 3000)).await, (0, 10));

    let ok = 0;
    assert_eq!(list_offset(&cluster, "times", -2).await, (ok, 0, -1), "earliest");
    assert_eq!(list_offset(&cluster, "times", -1).await, (ok, 15, -1), "latest");
    assert_eq!(list_offset(&cluster, "times", 2002).await, (ok, 7, 2002));
    assert_eq!(
        list_offset(&cluster, "times", 2500).await,
        (ok, 10, 3000),
        "the next one after"
    );
    assert_eq!(
        list_offset(&cluster, "times", -3).await,
        (ok, 14, 3004),
        "the largest timestamp"
    );
    assert_eq!(
        list_offset(&cluster, "times", 9999).await,
        (ok, -1, -1),
        "none that late"
    );

    // A fetch inside a batch gets the whole batch; past the end is out of range.
    assert_eq!(fetch(&cluster, "times", 3).await, (ok, 15, 0, vec![0, 5, 10]));
    assert_eq!(fetch(&cluster, "times", 15).await, (ok, 15, 0, vec![]));
    let out_of_range = ErrorCode::OffsetOutOfRange.code();
    assert_eq!(fetch(&cluster, "times", 16).await.0, out_of_range);

    assert_eq!(delete_records(&cluster, "times", 7).await, (ok, 7));
    assert_eq!(
        delete_records(&cluster, "times", 16).await.0,
        out_of_range,
        "past the high watermark"
    );
    assert_eq!(list_offset(&cluster, "times", -2).await, (ok, 7, -1), "earliest moved");
    assert_eq!(
        list_offset(&cluster, "times", 1000).await,
        (ok, 7, 2002),
        "nothing below the log start is found by time"
    );
    assert_eq!(fetch(&cluster, "times", 3).await.0, out_of_range, "below the log start");
    let (code, _, log_start, bases) = fetch(&cluster, "times", 7).await;
    assert_eq!((code, log_start, bases), (ok, 7, vec![5, 10]));
    cluster.shutdown().await;
}

/// InitProducerId; (error code, producer id, epoch).
async fn init_producer_id(cluster: &InProcess, transactional_id: Option<&str>) -> (i16, i64, i16) {
    use brook_protocol::messages::{InitProducerIdRequest, TransactionalId};
    let request = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.into()))))
        .with_transaction_timeout_ms(60_000);
    let ResponseKind::InitProducerId(answer) =
        call(cluster, ApiKey::InitProducerId, 4, RequestKind::InitProducerId(request)).await
    else {
        panic!("not an InitProducerId response");
    };
    (answer.error_code, answer.producer_id.0, answer.producer_epoch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_gets_its_first_offsets_and_gaps_and_stale_epochs_are_refused() {
    let cluster = InProcess::start(&[]).await;
    cluster.client.create_topic(&one_partition("idempotent")).await.unwrap();
    let (code, pid, epoch) = init_producer_id(&cluster, None).await;
    assert_eq!((code, epoch), (0, 0));
    assert_ne!(
        init_producer_id(&cluster, None).await.1,
        pid,
        "every producer its own id"
    );

    let send = |epoch, seq, records| produce(&cluster, "idempotent", producer_batch(pid, epoch, seq, records));
    assert_eq!(
        produce(&cluster, "idempotent", producer_batch(pid, 0, 0, 3)).await,
        (0, 0)
    );
    assert_eq!(send(0, 0, 3).await, (0, 0), "a retry: its first offset, written once");
    assert_eq!(
        send(0, 5, 1).await.0,
        ErrorCode::OutOfOrderSequenceNumber.code(),
        "a gap"
    );
    assert_eq!(send(0, 3, 2).await, (0, 3));
    // A bumped epoch (KIP-360) starts at sequence 0 and fences the old one.
    assert_eq!(send(1, 0, 1).await, (0, 5));
    assert_eq!(send(0, 5, 1).await.0, ErrorCode::InvalidProducerEpoch.code());
    assert_eq!(log_end(&cluster, "idempotent").await, 6, "six records, none twice");

    let (code, pid, _) = init_producer_id(&cluster, Some("tx-1")).await;
    assert_eq!(
        (code, pid),
        (ErrorCode::TransactionalIdAuthorizationFailed.code(), -1),
        "no transactions yet: refused at once, not retried"
    );
    cluster.shutdown().await;
}
