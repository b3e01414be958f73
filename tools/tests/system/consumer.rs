//! brook-client's consumer against `brook dev`: every codec round-trips from the
//! producer through the consumer with keys, headers and timestamps; seeks by offset and
//! by time; and two Brook consumers in one group split the partitions, rebalance when
//! one joins and when one leaves, commit what they read, and read every record.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_client::{
    Client, ClientConfig, Consumer, ConsumerConfig, NewTopic, OffsetReset, OffsetSpec, Producer, ProducerConfig,
    RebalanceListener, Record, TopicPartition,
};
use brook_protocol::records::{Compression, HeaderRef};
use common::DevCluster;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

async fn create(client: &Client, name: &str, partitions: i32) {
    let mut topic = NewTopic::new(name);
    topic.partitions = partitions;
    client.create_topic(&topic).await.unwrap();
}

/// Sends `count` records numbered from `first`, keyed over 20 keys; waits for every ack.
async fn produce(producer: &Producer, topic: &str, first: usize, count: usize) {
    let mut deliveries = Vec::new();
    for i in first..first + count {
        let key = format!("k{}", i % 20);
        let value = format!("v{i:05}");
        let index = i.to_string();
        let headers = [HeaderRef {
            key: b"index",
            value: Some(index.as_bytes()),
        }];
        let record = Record::new(topic)
            .key(key.as_bytes())
            .value(value.as_bytes())
            .headers(&headers)
            .timestamp(1_700_000_000_000 + i as i64);
        deliveries.push(producer.send(record).await.unwrap());
    }
    producer.flush().await;
    for delivery in deliveries {
        delivery.wait().await.unwrap();
    }
}

fn everything(topic: &str, partitions: i32) -> Vec<TopicPartition> {
    (0..partitions).map(|p| (topic.to_owned(), p)).collect()
}

/// Polls until the consumer is at the end of its partitions; returns what it read.
async fn read_to_end(consumer: &mut Consumer) -> Vec<brook_client::ConsumerRecord> {
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !consumer.at_end() {
        assert!(
            Instant::now() < deadline,
            "not at the end after 30 s; read {}",
            read.len()
        );
        read.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_with_keys_headers_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = format!("consume-{}", compression.name());
        create(&client, &topic, 3).await;
        // Every leader ready first (ListOffsets retries until it is): a retried batch
        // could land after a later one, and this run is about order without failures.
        client
            .list_offsets(&everything(&topic, 3), OffsetSpec::Latest)
            .await
            .unwrap();
        // Small batches, several of a partition in flight at once: without failures they
        // must still land in send order.
        let config = ProducerConfig {
            compression,
            batch_size: 2048,
            max_in_flight: 4,
            ..ProducerConfig::default()
        };
        let producer = Producer::new(Arc::clone(&client), config);
        produce(&producer, &topic, 0, 2000).await;

        let config = ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            max_poll_records: 123,
            ..ConsumerConfig::default()
        };
        let mut consumer = Consumer::new(Arc::clone(&client), config);
        consumer.assign(&everything(&topic, 3)).unwrap();
        let read = read_to_end(&mut consumer).await;
        assert_eq!(read.len(), 2000, "{topic}: every record once");
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        let mut last_index: BTreeMap<i32, usize> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for record in &read {
            let expected = next.entry(record.partition).or_insert(0);
            assert_eq!(record.offset, *expected, "{topic}: offsets in order, none skipped");
            *expected += 1;
            let index: usize = std::str::from_utf8(record.headers[0].1.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(record.headers[0].0, "index");
            assert_eq!(record.value.as_deref(), Some(format!("v{index:05}").as_bytes()));
            assert_eq!(record.key.as_deref(), Some(format!("k{}", index % 20).as_bytes()));
            assert_eq!(record.timestamp, 1_700_000_000_000 + index as i64);
            assert_eq!(&*record.topic, topic);
            let previous = last_index.insert(record.partition, index);
            assert!(
                previous < Some(index),
                "{topic}: partition {} in send order",
                record.partition
            );
            seen.insert(index);
        }
        assert_eq!(seen.len(), 2000);
        for p in 0..3 {
            let tp = (topic.clone(), p);
            assert_eq!(consumer.position(&tp), consumer.high_watermark(&tp));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeks_by_offset_and_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    create(&client, "seeking", 1).await;
    let producer = Producer::new(Arc::clone(&client), ProducerConfig::default());
    produce(&producer, "seeking", 0, 100).await;
    let tp = ("seeking".to_owned(), 0);

    // Latest by default: nothing to read until a seek.
    let mut consumer = Consumer::new(Arc::clone(&client), ConsumerConfig::default());
    consumer.assign(std::slice::from_ref(&tp)).unwrap();
    assert!(read_to_end(&mut consumer).await.is_empty());
    assert_eq!(consumer.position(&tp), Some(100));

    consumer.seek(&tp, 90).unwrap();
    let read = read_to_end(&mut consumer).await;
    assert_eq!(
        read.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (90..100).collect::<Vec<_>>()
    );

    consumer
        .seek_to(std::slice::from_ref(&tp), OffsetSpec::Timestamp(1_700_000_000_000 + 42))
        .await
        .unwrap();
    let read = read_to_end(&mut consumer).await;
    assert_eq!(read.first().map(|r| r.offset), Some(42));
    assert_eq!(read.len(), 58);

    assert!(consumer.seek(&("other".to_owned(), 0), 0).is_err(), "not assigned");
    assert!(consumer.subscribe(&["seeking".to_owned()]).is_err(), "no group id");
}

/// What a group member's rebalance callbacks saw.
#[derive(Default)]
struct Seen {
    revoked: usize,
    assigned: Vec<Vec<TopicPartition>>,
}

struct Recorder(Arc<Mutex<Seen>>);

impl RebalanceListener for Recorder {
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {
        self.0.lock().revoked += 1;
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        self.0.lock().assigned.push(partitions.to_vec());
    }
}

/// One member's report after each poll.
struct Report {
    member: &'static str,
    read: Vec<(i32, i64)>,
    assignment: Vec<TopicPartition>,
}

/// Polls in its own task (as an application would) until told to stop, then closes.
fn run_member(
    member: &'static str,
    mut consumer: Consumer,
    reports: mpsc::UnboundedSender<Report>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow_and_update() {
            let records = consumer.poll(Duration::from_millis(200)).await.unwrap();
            let report = Report {
                member,
                read: records.iter().map(|r| (r.partition, r.offset)).collect(),
                assignment: consumer.assignment(),
            };
            if reports.send(report).is_err() {
                break;
            }
        }
        consumer.close().await.unwrap();
    })
}

/// The group as the members' reports show it.
#[derive(Default)]
struct GroupView {
    read: BTreeSet<(i32, i64)>,
    assignments: BTreeMap<&'static str, Vec<TopicPartition>>,
}

impl GroupView {
    async fn until(
        &mut self,
        reports: &mut mpsc::UnboundedReceiver<Report>,
        what: &str,
        done: impl Fn(&GroupView) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            let report = tokio::time::timeout_at(deadline.into(), reports.recv())
                .await
                .unwrap_or_else(|_| panic!("{what}: not within 60 s; assignments {:?}", self.assignments))
                .expect("members report");
            self.read.extend(report.read);
            self.assignments.insert(report.member, report.assignment);
        }
    }

    fn owned(&self, member: &str) -> usize {
        self.assignments.get(member).map_or(0, Vec::len)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_in_a_group_split_the_partitions_and_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
    create(&client, "shared", 6).await;
    let producer = Producer::new(Arc::clone(&client), ProducerConfig::default());
    produce(&producer, "shared", 0, 300).await;

    let config = ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        heartbeat_interval: Duration::from_millis(300),
        session_timeout: Duration::from_secs(6),
        max_poll_interval: Duration::from_secs(20),
        auto_commit_interval: Duration::from_millis(500),
        ..ConsumerConfig::with_group("sharing")
    };
    let member = |seen: &Arc<Mutex<Seen>>| {
        // Each member has its own connections, as separate processes would.
        let client = Arc::new(Client::new(ClientConfig::new(cluster.kafka.clone())));
        let mut consumer = Consumer::new(client, config.clone());
        consumer.subscribe(&["shared".to_owned()]).unwrap();
        consumer.set_rebalance_listener(Recorder(Arc::clone(seen)));
        consumer
    };
    let (report, mut reports) = mpsc::unbounded_channel();
    let mut view = GroupView::default();

    let seen_a = Arc::new(Mutex::new(Seen::default()));
    let (stop_a, stopped_a) = watch::channel(false);
    let a = run_member("a", member(&seen_a), report.clone(), stopped_a);
    view.until(&mut reports, "a alone reads everything", |v| {
        v.owned("a") == 6 && v.read.len() == 300
    })
    .await;

    let seen_b = Arc::new(Mutex::new(Seen::default()));
    let (stop_b, stopped_b) = watch::channel(false);
    let b = run_member("b", member(&seen_b), report.clone(), stopped_b);
    produce(&producer, "shared", 300, 300).await;
    view.until(&mut reports, "a and b split the partitions", |v| {
        v.owned("a") == 3 && v.owned("b") == 3 && v.read.len() == 600
    })
    .await;
    let a_parts: BTreeSet<_> = view.assignments["a"].iter().collect();
    assert!(
        view.assignments["b"].iter().all(|tp| !a_parts.contains(tp)),
        "disjoint: {:?}",
        view.assignments
    );

    // b leaves (committing what it read); a takes everything back.
    stop_b.send(true).unwrap();
    b.await.unwrap();
    view.assignments.remove("b");
    produce(&producer, "shared", 600, 300).await;
    view.until(&mut reports, "a alone again", |v| {
        v.owned("a") == 6 && v.read.len() == 900
    })
    .await;
    stop_a.send(true).unwrap();
    a.await.unwrap();

    let dense: BTreeSet<(i32, i64)> = {
        let ends = client
            .list_offsets(&everything("shared", 6), OffsetSpec::Latest)
            .await
            .unwrap();
        assert_eq!(ends.values().sum::<i64>(), 900);
        let committed = client.committed_offsets("sharing").await.unwrap();
        assert_eq!(committed, ends, "each member committed what it read on leaving");
        ends.iter()
            .flat_map(|((_, p), end)| (0..*end).map(move |o| (*p, o)))
            .collect()
    };
    assert_eq!(view.read, dense, "every record read");

    let a_seen = seen_a.lock();
    assert!(a_seen.revoked >= 2, "a gave up its partitions at both rebalances");
    assert_eq!(a_seen.assigned.first().map(Vec::len), Some(6));
    assert_eq!(a_seen.assigned.last().map(Vec::len), Some(6));
    assert!(a_seen.assigned.iter().any(|p| p.len() == 3));
    assert_eq!(seen_b.lock().assigned.last().map(Vec::len), Some(3));
}
