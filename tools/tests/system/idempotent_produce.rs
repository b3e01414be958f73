//! Idempotent producers against `brook dev`, request by request: InitProducerId hands out
//! distinct ids, a retried batch is answered with its original offsets and written once
//! (also after a kill -9 and restart), gaps and stale epochs are refused with Kafka's
//! codes, and transactions and SASL get the errors that say they are not offered.

use crate::common;
use crate::common::require;

use std::time::Duration;

use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{
    InitProducerIdRequest, ProduceRequest, RequestKind, ResponseKind, SaslHandshakeRequest, TopicName, TransactionalId,
};
use brook_protocol::records::{BatchBuilder, Compression};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use bytes::BytesMut;
use common::{BlockingConnection, DevCluster, kcat};

fn connect(kafka: &str) -> BlockingConnection {
    BlockingConnection::connect(kafka, "idempotence-test")
}

/// (error code, producer id, epoch)
fn init_producer_id(connection: &BlockingConnection, transactional_id: Option<&str>) -> (i16, i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(transactional_id.map(|t| TransactionalId(StrBytes::from_string(t.into()))))
        .with_transaction_timeout_ms(60_000);
    let Ok(ResponseKind::InitProducerId(response)) =
        connection.call(ApiKey::InitProducerId, 4, RequestKind::InitProducerId(request))
    else {
        panic!("no InitProducerId answer")
    };
    (response.error_code, response.producer_id.0, response.producer_epoch)
}

/// Produces one batch of `records` records from (`pid`, `epoch`) starting at `seq`
/// to `idempotent-0`; (error code, base offset).
fn produce(connection: &BlockingConnection, pid: i64, epoch: i16, seq: i32, records: usize) -> (i16, i64) {
    let mut builder = BatchBuilder::new(Compression::None).with_producer(pid, epoch, seq);
    for i in 0..records {
        builder.append(
            0,
            None,
            Some(format!("{pid}-{epoch}-{}", seq as usize + i).as_bytes()),
            &[],
        );
    }
    let mut batch = BytesMut::new();
    builder.build_into(&mut batch).unwrap();
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("idempotent")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch.freeze())),
                ]),
        ]);
    let Ok(ResponseKind::Produce(response)) = connection.call(ApiKey::Produce, 9, RequestKind::Produce(request)) else {
        panic!("no Produce answer")
    };
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

fn values(kafka: &str) -> Vec<String> {
    let out = kcat(
        &["-C", "-b", kafka, "-t", "idempotent", "-o", "beginning", "-e", "-q"],
        b"",
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn retried_batches_are_written_once_and_sequences_are_enforced() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = DevCluster::start(dir.path(), 1);
    kcat(&["-P", "-b", &cluster.kafka, "-t", "idempotent"], b"plain\n");
    let connection = connect(&cluster.kafka);

    let (code, pid, epoch) = init_producer_id(&connection, None);
    assert_eq!((code, epoch), (0, 0));
    let (_, other, _) = init_producer_id(&connection, None);
    assert_ne!(pid, other, "every producer gets its own id");

    assert_eq!(produce(&connection, pid, 0, 0, 3), (0, 1));
    assert_eq!(
        produce(&connection, pid, 0, 0, 3),
        (0, 1),
        "a retry: its original offset"
    );
    let gap = produce(&connection, pid, 0, 5, 1).0;
    assert_eq!(gap, ErrorCode::OutOfOrderSequenceNumber.code());
    assert_eq!(produce(&connection, pid, 0, 3, 2), (0, 4));
    // The client bumped its epoch (after an error, KIP-360): it starts again at 0, and
    // the old epoch is fenced.
    assert_eq!(produce(&connection, pid, 1, 0, 1), (0, 6));
    let stale = produce(&connection, pid, 0, 5, 1).0;
    assert_eq!(stale, ErrorCode::InvalidProducerEpoch.code());
    assert_eq!(values(&cluster.kafka).len(), 7, "one plain record, six idempotent ones");
    let duplicates = common::sample(
        &common::scrape(&cluster.metrics),
        "brook_broker_produce_duplicates_total",
        &[("topic", "idempotent")],
    );
    assert_eq!(duplicates, Some(1.0));

    // The producer state comes back from the log after a crash.
    drop(connection);
    cluster.kill();
    cluster.restart();
    let connection = connect(&cluster.kafka);
    assert_eq!(produce(&connection, pid, 1, 0, 1), (0, 6), "a retry after the restart");
    assert_eq!(produce(&connection, pid, 1, 1, 1), (0, 7));
    let expected = ["plain", "P-0-0", "P-0-1", "P-0-2", "P-0-3", "P-0-4", "P-1-0", "P-1-1"];
    let expected: Vec<String> = expected.iter().map(|v| v.replace('P', &pid.to_string())).collect();
    assert_eq!(values(&cluster.kafka), expected);

    let (code, pid, _) = init_producer_id(&connection, Some("tx-1"));
    assert_eq!(
        (code, pid),
        (ErrorCode::TransactionalIdAuthorizationFailed.code(), -1),
        "no transactions"
    );
    let handshake = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    let Ok(ResponseKind::SaslHandshake(answer)) =
        connection.call(ApiKey::SaslHandshake, 1, RequestKind::SaslHandshake(handshake))
    else {
        panic!("no SaslHandshake answer")
    };
    assert_eq!(answer.error_code, ErrorCode::UnsupportedSaslMechanism.code());
    assert!(answer.mechanisms.is_empty());
    assert!(connection.is_open(), "the connection stays usable");
}

/// Runs `idempotent_check.py` with `fault` (`--kill-midway` or `--pause-midway`),
/// doing to `brook dev` what the script asks for when it asks; returns how many retried
/// record sets the broker answered from its log after the fault.
fn idempotent_producer_across(fault: &str, topic: &str) -> f64 {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let mut cluster = DevCluster::start(dir.path(), 1);
    let mut script = common::LineScript::start("idempotent_check.py", &[&cluster.kafka, topic, fault]);
    match script.next_line(Duration::from_secs(120)).as_deref() {
        Some("kill") => {
            cluster.kill();
            cluster.restart();
        }
        Some("pause") => {
            let pid = cluster.process.as_ref().expect("running").id().to_string();
            Command::new("kill").args(["-STOP", &pid]).status().unwrap();
            std::thread::sleep(Duration::from_secs(3)); // three request timeouts
            Command::new("kill").args(["-CONT", &pid]).status().unwrap();
        }
        other => panic!("the script asked for no fault: {other:?}"),
    }
    let printed = script.finish(|| cluster.log());
    let duplicates = common::sample(
        &common::scrape(&cluster.metrics),
        "brook_broker_produce_duplicates_total",
        &[("topic", topic)],
    );
    eprintln!("{}\nretries answered from the log: {duplicates:?}", printed.join("\n"));
    duplicates.unwrap_or(0.0)
}

#[test]
fn confluent_kafka_idempotent_producer_writes_each_message_once_across_a_broker_kill() {
    require!(Python);
    // Whether anything was in flight at the kill is up to timing; the count is not.
    idempotent_producer_across("--kill-midway", "idempotent-kill");
}

#[test]
fn confluent_kafka_retries_after_a_broker_pause_are_answered_from_the_log() {
    require!(Python);
    let duplicates = idempotent_producer_across("--pause-midway", "idempotent-pause");
    assert!(duplicates > 0.0, "no retry reached the broker's duplicate check");
}
