//! brook-client's producer against `brook dev`: every compression codec round-trips
//! (read back with kcat), offsets come back dense per partition, keyed records land
//! where librdkafka's `murmur2_random` (the Java client's partitioner) puts the same keys
//! (checked with confluent-kafka), `acks=0` sends without answers, and retries carry
//! every record across a leader's SIGKILL on a three-broker cluster.

use crate::common;
use crate::common::{Start, require};

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;

use brook_client::{Acks, Client, ClientConfig, NewTopic, Producer, ProducerConfig, Record, partition_for_key};
use brook_protocol::records::Compression;
use common::{DevCluster, consume_formatted, python_client};

const PARTITIONS: i32 = 6;

async fn topic(client: &Client, name: &str) {
    let mut topic = NewTopic::new(name);
    topic.partitions = PARTITIONS;
    client.create_topic(&topic).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_with_dense_offsets_per_partition() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];
    for (name, compression) in codecs {
        let topic_name = format!("codec-{name}");
        topic(&client, &topic_name).await;
        let config = ProducerConfig {
            compression,
            batch_size: 4096,
            ..ProducerConfig::default()
        };
        let producer = Producer::new(Arc::clone(&client), config);
        let mut deliveries = Vec::new();
        for i in 0..3000 {
            let key = format!("key-{}", i % 50);
            let value = format!("{name}-{i:05}");
            let record = Record::new(&topic_name).key(key.as_bytes()).value(value.as_bytes());
            let delivery = producer.send(record).await.unwrap();
            deliveries.push((key, delivery));
        }
        producer.flush().await;
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for (key, delivery) in deliveries {
            let landed = delivery.wait().await.unwrap();
            assert_eq!(landed.partition, partition_for_key(key.as_bytes(), PARTITIONS));
            offsets.entry(landed.partition).or_default().push(landed.offset);
        }
        for (partition, mut list) in offsets {
            list.sort_unstable();
            let dense: Vec<i64> = (0..list.len() as i64).collect();
            assert_eq!(list, dense, "{name}: partition {partition} offsets");
        }
        let read = consume_formatted(&cluster.kafka, &topic_name, "%s\n");
        let expected: Vec<String> = (0..3000).map(|i| format!("{name}-{i:05}")).collect();
        assert_eq!(read, expected, "{name}: every record once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_where_librdkafkas_murmur2_puts_them_and_acks_0_sends_blind() {
    require!(Kcat, Python);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    topic(&client, "keys-librdkafka").await;
    topic(&client, "keys-brook").await;
    let keys: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();

    let mut script = python_client("key_partitions.py")
        .args([&cluster.kafka, "keys-librdkafka"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .start();
    script
        .stdin
        .take()
        .unwrap()
        .write_all(keys.join("\n").as_bytes())
        .unwrap();
    let out = script.wait_with_output();
    assert!(out.status.success());
    let librdkafka: BTreeMap<String, i32> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (key, partition) = line.split_once(' ').unwrap();
            (key.to_owned(), partition.parse().unwrap())
        })
        .collect();
    assert_eq!(librdkafka.len(), keys.len());

    let config = ProducerConfig {
        acks: Acks::None,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(Arc::clone(&client), config);
    let mut deliveries = Vec::new();
    for key in &keys {
        let record = Record::new("keys-brook").key(key.as_bytes()).value(b"v");
        let delivery = producer.send(record).await.unwrap();
        deliveries.push((key, delivery));
    }
    producer.flush().await;
    for (key, delivery) in deliveries {
        let landed = delivery.wait().await.unwrap();
        assert_eq!(landed.partition, librdkafka[key], "key {key}");
        assert_eq!(landed.offset, -1, "acks=0 learns no offset");
    }
    // The blind writes arrived: kcat reads each key in the partition librdkafka chose.
    let read = consume_formatted(&cluster.kafka, "keys-brook", "%k %p\n");
    let mut expected: Vec<String> = librdkafka.iter().map(|(k, p)| format!("{k} {p}")).collect();
    expected.sort();
    assert_eq!(read, expected);
}

/// Partition 0's end offset.
async fn end_offset(client: &Client, topic: &str) -> i64 {
    let partition = (topic.to_owned(), 0);
    client
        .list_offsets(std::slice::from_ref(&partition), brook_client::OffsetSpec::Latest)
        .await
        .unwrap()[&partition]
}

/// A flush with `acks=0` returns once every request is on the socket, not when it is
/// queued for the connection's writer: a program that exits right after its flush (the
/// runtime and its tasks gone at once) still delivers every record. The broker is
/// frozen (SIGSTOP) while the records are sent, so the writer cannot keep up; it goes on
/// a second later.
#[test]
fn acks_0_records_a_flush_returned_for_survive_the_runtime_ending_at_once() {
    const TOPIC: &str = "blind-exit";
    const RECORDS: i64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let pid = cluster.process.as_ref().unwrap().id().to_string();
    let signal = move |name: &str| {
        assert!(
            std::process::Command::new("kill")
                .args([name, &pid])
                .status()
                .unwrap()
                .success()
        )
    };
    let value = vec![b'x'; 256 * 1024];
    let producing = tokio::runtime::Runtime::new().unwrap();
    let client = producing.block_on(async {
        let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
        let mut new = NewTopic::new(TOPIC);
        new.partitions = 1;
        client.create_topic(&new).await.unwrap();
        end_offset(&client, TOPIC).await;
        client
    });
    let config = ProducerConfig {
        acks: Acks::None,
        batch_size: 1024 * 1024,
        ..ProducerConfig::default()
    };
    // The producer learns the partition's leader and connects before the broker freezes.
    let producer = producing.block_on(async {
        let producer = Producer::new(Arc::clone(&client), config);
        producer.send(Record::new(TOPIC).value(b"first")).await.unwrap();
        producer.flush().await;
        producer
    });
    signal("-STOP");
    let thaw = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        signal("-CONT");
    });
    producing.block_on(async {
        for _ in 1..RECORDS {
            producer.send(Record::new(TOPIC).value(&value)).await.unwrap();
        }
        producer.flush().await;
    });
    producing.shutdown_background();
    thaw.join().unwrap();

    let checking = tokio::runtime::Runtime::new().unwrap();
    checking.block_on(async {
        let client = Client::new(ClientConfig::new(cluster.kafka.clone()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let end = end_offset(&client, TOPIC).await;
            if end == RECORDS {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{end} of {RECORDS} acks=0 records arrived after the flush"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
}

/// A record that arrives alone leaves after `linger`, not when its batch fills or on a
/// flush (issue 18: the sender slept with no deadline while a new batch waited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_record_leaves_after_linger_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    topic(&client, "trickle").await;
    let config = ProducerConfig {
        linger: std::time::Duration::from_millis(20),
        ..ProducerConfig::default()
    };
    let producer = Producer::new(Arc::clone(&client), config);
    for i in 0..5 {
        let value = format!("slow-{i}");
        let delivery = producer
            .send(Record::new("trickle").partition(0).value(value.as_bytes()))
            .await
            .unwrap();
        // No flush: only the linger deadline can send it. The bound is generous (a
        // liveness check, not a latency figure); without the wake-up it never returns.
        let landed = tokio::time::timeout(std::time::Duration::from_secs(20), delivery.wait())
            .await
            .unwrap_or_else(|_| panic!("record {i} never left its batch"))
            .unwrap();
        assert_eq!(landed.offset, i);
    }
}

#[test]
fn brook_produce_sends_stdin_lines_with_keys_and_headers() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 3);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_brook"))
        .args([
            "produce",
            "lines",
            "-K",
            ":",
            "-H",
            "source=cli",
            "-z",
            "lz4",
            "--acks",
            "1",
        ])
        .args(["-b", &cluster.kafka])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    let input: String = (0..500).map(|i| format!("k{}:value-{i:03}\n", i % 7)).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("produced 500 records to lines"), "{stderr}");
    let lines = consume_formatted(&cluster.kafka, "lines", "%k %s %h %p\n");
    let mut values = Vec::new();
    for line in &lines {
        let [key, value, header, partition] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("{line}")
        };
        assert_eq!(header, "source=cli");
        assert_eq!(partition, partition_for_key(key.as_bytes(), 3).to_string(), "{line}");
        values.push(value.to_owned());
    }
    values.sort();
    let expected: Vec<String> = (0..500).map(|i| format!("value-{i:03}")).collect();
    assert_eq!(values, expected);
    let mut unreachable = std::process::Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(["produce", "lines", "-b", "127.0.0.1:1"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    unreachable.stdin.take().unwrap().write_all(b"x\n").unwrap();
    let out = unreachable.wait_with_output();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach 127.0.0.1:1"));
}

/// The partition's leader killed mid-stream (SIGKILL, RF 3, acks=all): every record is
/// acknowledged anyway, through `NOT_LEADER_OR_FOLLOWER` and lost connections retried
/// at the new leader, each acknowledged offset holds its record, and with one batch in
/// flight the partition keeps send order (a retry may duplicate a batch the old leader
/// had replicated but not acknowledged, never reorder or lose one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_carry_every_record_across_a_leader_failover() {
    require!(Kcat);
    use common::cluster::Cluster;
    use std::time::Duration;

    let mut cluster = Cluster::start(1, 3, 1);
    cluster.wait_for_brokers(3);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.bootstrap())));
    let mut topic = NewTopic::new("failover");
    topic.partitions = 1;
    topic.replication_factor = 3;
    topic.configs = vec![("min.insync.replicas".into(), "2".into())];
    client.create_topic(&topic).await.unwrap();
    let tp = ("failover".to_owned(), 0);
    client
        .list_offsets(std::slice::from_ref(&tp), brook_client::OffsetSpec::Latest)
        .await
        .unwrap();
    let config = ProducerConfig {
        acks: Acks::All,
        linger: Duration::from_millis(2),
        batch_size: 2048,
        delivery_timeout: Duration::from_secs(60),
        ..ProducerConfig::default()
    };
    let producer = Producer::new(Arc::clone(&client), config);
    let mut deliveries = Vec::new();
    let mut killed = None;
    for i in 0..3000 {
        if i == 1000 {
            // kcat and the kill block: off the async workers, which carry the producer.
            let leader = tokio::task::block_in_place(|| {
                let (_, leader) = cluster.leaders("failover")[0];
                cluster.kill_broker(leader as u32);
                leader
            });
            killed = Some(leader);
        }
        let value = format!("r{i:05}");
        deliveries.push((
            value.clone(),
            producer
                .send(Record::new("failover").value(value.as_bytes()))
                .await
                .unwrap(),
        ));
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    producer.flush().await;
    let mut acknowledged = BTreeMap::new();
    for (value, delivery) in deliveries {
        let landed = delivery.wait().await.unwrap_or_else(|e| panic!("{value}: {e}"));
        acknowledged.insert(landed.offset, value);
    }
    assert_eq!(acknowledged.len(), 3000, "one offset per record");
    let (_, new_leader) = cluster.leaders("failover")[0];
    assert_ne!(Some(new_leader), killed, "leadership moved");

    let mut consumer = brook_client::Consumer::new(
        Arc::clone(&client),
        brook_client::ConsumerConfig {
            auto_offset_reset: brook_client::OffsetReset::Earliest,
            ..brook_client::ConsumerConfig::default()
        },
    );
    consumer.assign(std::slice::from_ref(&tp)).unwrap();
    let mut log = BTreeMap::new();
    while !consumer.at_end() {
        for record in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            log.insert(
                record.offset,
                String::from_utf8(record.value.unwrap().to_vec()).unwrap(),
            );
        }
    }
    for (offset, value) in &acknowledged {
        assert_eq!(log.get(offset), Some(value), "offset {offset} holds what its ack said");
    }
    // Send order: each record's first appearance comes after the previous record's.
    let mut first_seen: BTreeMap<&str, i64> = BTreeMap::new();
    for (offset, value) in &log {
        first_seen.entry(value.as_str()).or_insert(*offset);
    }
    let order: Vec<i64> = (0..3000).map(|i| first_seen[format!("r{i:05}").as_str()]).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "the partition keeps send order");
}
