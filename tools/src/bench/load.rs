//! What the message workloads share: the topic, OpenMessaging Benchmark presets, the
//! payload, and the producing and consuming loops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use brook_client::{Client, Consumer, ConsumerConfig, DeliveryFuture, NewTopic, OffsetSpec, Producer, Record};
use brook_protocol::ErrorCode;
use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::report::Latencies;
use super::{Budget, RunLength};
use crate::connect::Connect;
use crate::produce_cmd::ProducerArgs;

/// OpenMessaging Benchmark workloads (its `workloads/*.yaml`) that `--workload` mirrors:
/// one topic, one subscription. OMB's duration and warm-up are left to --duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OmbWorkload {
    /// 1 partition, 1 KiB messages, 1 producer, 1 consumer, 50,000 msg/s.
    #[value(name = "1-topic-1-partition-1kb")]
    OnePartition,
    /// 16 partitions, 1 KiB messages, 1 producer, 1 consumer, 50,000 msg/s.
    #[value(name = "1-topic-16-partitions-1kb")]
    SixteenPartitions,
    /// 100 partitions, 1 KiB messages, 1 producer, 1 consumer, 50,000 msg/s.
    #[value(name = "1-topic-100-partitions-1kb")]
    HundredPartitions,
    /// 100 partitions, 1 KiB messages, 4 producers, 4 consumers, 500,000 msg/s.
    #[value(name = "1-topic-100-partitions-1kb-4p-4c-500k")]
    HundredPartitions4p4c,
}

/// The settings a workload fixes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub partitions: i32,
    pub message_size: usize,
    pub producers: usize,
    pub consumers: usize,
    /// Messages per second in all; `None`: as fast as it goes.
    pub rate: Option<f64>,
}

impl OmbWorkload {
    fn shape(self) -> Shape {
        let (partitions, producers, rate) = match self {
            OmbWorkload::OnePartition => (1, 1, 50_000.0),
            OmbWorkload::SixteenPartitions => (16, 1, 50_000.0),
            OmbWorkload::HundredPartitions => (100, 1, 50_000.0),
            OmbWorkload::HundredPartitions4p4c => (100, 4, 500_000.0),
        };
        Shape {
            partitions,
            message_size: 1024,
            producers,
            consumers: producers,
            rate: Some(rate),
        }
    }

    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// The topic a workload uses, created when missing.
#[derive(Debug, Clone, Args)]
pub struct TopicArgs {
    /// The topic (created when missing).
    #[arg(long, default_value = "brook-bench")]
    pub topic: String,
    /// Partitions of a topic created for the run [default: 16].
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replicas of each partition of a topic created for the run.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i16,
}

/// How messages are sent.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Bytes per message value [default: 1024].
    #[arg(long)]
    pub message_size: Option<usize>,
    /// Messages per second in all, spread over the producers [default: as fast as it goes].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Concurrent producers, each with its own connections [default: 1].
    #[arg(long)]
    pub producers: Option<usize>,
    /// Closed loop, one batch in flight per producer (Apache Iggy's benchmark): send
    /// this many messages, wait until all are acknowledged, then send the next as many.
    /// Latency is then per batch, first send to last acknowledgement. Give --batch-size
    /// room for them to go as one batch. Not with --rate.
    #[arg(long, conflicts_with = "rate")]
    pub batch_messages: Option<usize>,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

/// The workload's shape: a preset's, with flags given explicitly taking precedence.
pub fn shape(
    workload: Option<OmbWorkload>,
    topic: &TopicArgs,
    send: Option<&SendArgs>,
    consumers: Option<usize>,
) -> Result<Shape> {
    let base = workload.map_or(
        Shape {
            partitions: 16,
            message_size: 1024,
            producers: 1,
            consumers: 1,
            rate: None,
        },
        OmbWorkload::shape,
    );
    let shape = Shape {
        partitions: topic.partitions.unwrap_or(base.partitions),
        message_size: send.and_then(|s| s.message_size).unwrap_or(base.message_size),
        producers: send.and_then(|s| s.producers).unwrap_or(base.producers),
        consumers: consumers.unwrap_or(base.consumers),
        rate: send.and_then(|s| s.rate).or(base.rate).filter(|r| *r > 0.0),
    };
    ensure!(
        !(send.is_some_and(|s| s.batch_messages.is_some()) && shape.rate.is_some()),
        "--batch-messages is a closed loop and takes no rate (the workload sets one)"
    );
    ensure!(
        send.and_then(|s| s.batch_messages) != Some(0),
        "--batch-messages must be at least 1"
    );
    ensure!(shape.partitions > 0, "--partitions must be at least 1");
    ensure!(shape.producers > 0, "--producers must be at least 1");
    ensure!(shape.consumers > 0, "--consumers must be at least 1");
    ensure!(
        shape.message_size >= 8,
        "--message-size must be at least 8 (the e2e timestamp)"
    );
    Ok(shape)
}

/// Creates the topic if it is missing; returns its partition count.
pub async fn prepare_topic(client: &Client, topic: &TopicArgs, partitions: i32) -> Result<i32> {
    let mut new = NewTopic::new(&topic.topic);
    new.partitions = partitions;
    new.replication_factor = topic.replication_factor;
    match client.create_topic(&new).await {
        Ok(()) => {}
        Err(e) if e.kafka_code() == Some(ErrorCode::TopicAlreadyExists.code()) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create topic {}", topic.topic)),
    }
    // Wait until every partition has a leader, so the run does not time leader elections.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = client.topics(Some(std::slice::from_ref(&topic.topic))).await;
        if let Ok(Some(info)) = found.as_ref().map(|t| t.first())
            && !info.partitions.is_empty()
            && info.partitions.iter().all(|p| p.leader >= 0)
        {
            return Ok(info.partitions.len() as i32);
        }
        ensure!(
            Instant::now() < deadline,
            "topic {} has partitions without a leader after 30 s",
            topic.topic
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A message value: half pseudo-random bytes, half zeros, so compression has the 2:1
/// of OMB's `randomBytesRatio: 0.5` to work with instead of an all-zero page.
fn payload(size: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..size)
        .map(|i| {
            if i >= size / 2 {
                return 0;
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Microseconds since the Unix epoch: the e2e timestamp embedded in each message.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// What one producer (or all of them) did.
#[derive(Default)]
pub struct Sent {
    pub acknowledged: u64,
    pub errors: u64,
    pub first_error: Option<brook_client::Error>,
    pub latencies: Option<Latencies>,
}

impl Sent {
    pub fn merge(&mut self, other: Sent) {
        self.acknowledged += other.acknowledged;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        match (&mut self.latencies, other.latencies) {
            (Some(mine), Some(theirs)) => mine.merge(&theirs),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
    }
}

/// One producer's run. With a rate, each message has a due time and its latency counts
/// from then, not from when it went out, so a stalled producer cannot hide its stall
/// (no coordinated omission). `stamp` writes the send time into the first 8 bytes.
struct ProduceLoop {
    producer: Producer,
    topic: String,
    payload: Vec<u8>,
    budget: Arc<Budget>,
    /// This producer's share of the rate.
    rate: Option<f64>,
    /// `--batch-messages`: closed loop, this many messages at a time.
    batch_messages: Option<usize>,
    stamp: bool,
    acked: Arc<AtomicU64>,
}

impl ProduceLoop {
    async fn run(self) -> Sent {
        match self.batch_messages {
            Some(count) => self.run_batches(count).await,
            None => self.run_open().await,
        }
    }

    /// One batch of `count` at a time: sent, flushed, every acknowledgement awaited.
    async fn run_batches(mut self, count: usize) -> Sent {
        let mut sent = Sent {
            latencies: Some(Latencies::new()),
            ..Sent::default()
        };
        let mut deliveries = Vec::with_capacity(count);
        loop {
            let started = Instant::now();
            let claimed = self.budget.claim_many(count as u64) as usize;
            for _ in 0..claimed {
                if self.stamp {
                    self.payload[..8].copy_from_slice(&now_micros().to_be_bytes());
                }
                match self.producer.send(Record::new(&self.topic).value(&self.payload)).await {
                    Ok(delivery) => deliveries.push(delivery),
                    Err(e) => {
                        sent.errors += 1;
                        sent.first_error.get_or_insert(e);
                    }
                }
            }
            if deliveries.is_empty() {
                return sent;
            }
            let whole = claimed == count;
            self.producer.flush().await;
            let mut all_acknowledged = true;
            for delivery in deliveries.drain(..) {
                match delivery.wait().await {
                    Ok(_) => {
                        sent.acknowledged += 1;
                        self.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        all_acknowledged = false;
                        sent.errors += 1;
                        sent.first_error.get_or_insert(e);
                    }
                }
            }
            if all_acknowledged && let Some(latencies) = sent.latencies.as_mut() {
                latencies.record(started.elapsed());
            }
            if !whole {
                return sent; // the run's budget ran out inside this batch
            }
        }
    }

    async fn run_open(mut self) -> Sent {
        // Deliveries are waited for by a second task, in send order; each carries the
        // instant its batch was answered, so the order costs no accuracy.
        let (pending, mut settled) = mpsc::channel::<(Instant, DeliveryFuture)>(65_536);
        let acked = Arc::clone(&self.acked);
        let collector = tokio::spawn(async move {
            let mut sent = Sent {
                latencies: Some(Latencies::new()),
                ..Sent::default()
            };
            while let Some((due, delivery)) = settled.recv().await {
                let (result, at) = delivery.wait_timed().await;
                match result {
                    Ok(_) => {
                        if let Some(l) = sent.latencies.as_mut() {
                            l.record(at.saturating_duration_since(due));
                        }
                        sent.acknowledged += 1;
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        sent.errors += 1;
                        sent.first_error.get_or_insert(e);
                    }
                }
            }
            sent
        });
        let started = Instant::now();
        let mut n = 0u64;
        let mut failed_to_send = Sent::default();
        while self.budget.claim() {
            let due = match self.rate {
                Some(rate) => {
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    due
                }
                None => Instant::now(),
            };
            n += 1;
            if self.stamp {
                self.payload[..8].copy_from_slice(&now_micros().to_be_bytes());
            }
            match self.producer.send(Record::new(&self.topic).value(&self.payload)).await {
                Ok(delivery) => {
                    if pending.send((due, delivery)).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed_to_send.errors += 1;
                    failed_to_send.first_error.get_or_insert(e);
                }
            }
        }
        self.producer.flush().await;
        drop(pending);
        let mut sent = collector.await.unwrap_or_default();
        sent.merge(failed_to_send);
        sent
    }
}

/// Runs the shape's producers, each with its own client (its own connections), until
/// the run's length is used up; returns what they did, merged. `acked` counts
/// acknowledgements as they come (the progress line, e2e's consumers).
pub async fn run_producers(
    connect: &Connect,
    send: &SendArgs,
    shape: &Shape,
    topic: &str,
    length: &RunLength,
    stamp: bool,
    acked: Arc<AtomicU64>,
) -> Result<Sent> {
    let budget = Arc::new(Budget::new(length));
    let config = connect.producer_config(send.producer.config())?;
    let tasks: Vec<_> = (0..shape.producers)
        .map(|_| {
            let producer = Producer::new(Arc::new(connect.client()), config.clone());
            tokio::spawn(
                ProduceLoop {
                    producer,
                    topic: topic.to_owned(),
                    payload: payload(shape.message_size),
                    budget: Arc::clone(&budget),
                    rate: shape.rate.map(|r| r / shape.producers as f64),
                    batch_messages: send.batch_messages,
                    stamp,
                    acked: Arc::clone(&acked),
                }
                .run(),
            )
        })
        .collect();
    let mut sent = Sent::default();
    for task in tasks {
        sent.merge(task.await.context("a producer panicked")?);
    }
    Ok(sent)
}

/// What one consumer (or all of them) read.
pub struct Received {
    pub messages: u64,
    pub bytes: u64,
    pub latencies: Latencies,
    /// Records whose value was too short to hold a timestamp (e2e only).
    pub unstamped: u64,
}

impl Received {
    pub fn new() -> Self {
        Received {
            messages: 0,
            bytes: 0,
            latencies: Latencies::new(),
            unstamped: 0,
        }
    }

    pub fn merge(&mut self, other: &Received) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.latencies.merge(&other.latencies);
        self.unstamped += other.unstamped;
    }
}

/// Consumers for a run, outside any group: consumer `i` reads partitions `i`,
/// `i + consumers`, ... from `start`. Each has its own client.
pub async fn consumers(
    connect: &Connect,
    topic: &str,
    partitions: i32,
    count: usize,
    start: OffsetSpec,
) -> Result<Vec<Consumer>> {
    let mut all = Vec::with_capacity(count);
    for i in 0..count.min(partitions as usize) {
        let mine: Vec<(String, i32)> = (i as i32..partitions)
            .step_by(count)
            .map(|p| (topic.to_owned(), p))
            .collect();
        let config = connect.consumer_config(ConsumerConfig {
            // Whole 1 MiB partition fetches, up to 50 MiB a fetch (the Java defaults),
            // and enough records a poll to keep up with them.
            max_poll_records: 10_000,
            ..ConsumerConfig::default()
        })?;
        let mut consumer = Consumer::new(Arc::new(connect.client()), config);
        consumer.assign(&mine)?;
        consumer.seek_to(&mine, start).await?;
        all.push(consumer);
    }
    Ok(all)
}

/// Reads until `done` says so. With `stamped`, latency is now minus the timestamp in
/// each value's first 8 bytes (end to end); else it is each poll's wait.
pub async fn consume_loop(
    mut consumer: Consumer,
    stamped: bool,
    read: Arc<AtomicU64>,
    done: impl Fn(&Consumer) -> bool,
) -> Result<Received> {
    let mut received = Received::new();
    while !done(&consumer) {
        let asked = Instant::now();
        let records = consumer.poll(Duration::from_millis(100)).await?;
        if !stamped && !records.is_empty() {
            received.latencies.record(asked.elapsed());
        }
        let now = now_micros();
        for record in &records {
            let value = record.value.as_deref().unwrap_or_default();
            received.bytes += value.len() as u64;
            if stamped {
                match value.get(..8) {
                    Some(stamp) => {
                        let sent = u64::from_be_bytes(stamp.try_into().expect("8 bytes"));
                        received
                            .latencies
                            .record(Duration::from_micros(now.saturating_sub(sent)));
                    }
                    None => received.unstamped += 1,
                }
            }
        }
        received.messages += records.len() as u64;
        read.fetch_add(records.len() as u64, Ordering::Relaxed);
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_give_omb_shapes_and_flags_override_them() {
        let topic = TopicArgs {
            topic: "t".into(),
            partitions: None,
            replication_factor: 1,
        };
        let preset = shape(Some(OmbWorkload::HundredPartitions4p4c), &topic, None, None).unwrap();
        assert_eq!(
            preset,
            Shape {
                partitions: 100,
                message_size: 1024,
                producers: 4,
                consumers: 4,
                rate: Some(500_000.0)
            }
        );
        assert_eq!(OmbWorkload::HundredPartitions.name(), "1-topic-100-partitions-1kb");
        let topic = TopicArgs {
            partitions: Some(3),
            ..topic
        };
        let overridden = shape(Some(OmbWorkload::OnePartition), &topic, None, Some(2)).unwrap();
        assert_eq!((overridden.partitions, overridden.consumers), (3, 2));
    }

    #[test]
    fn the_payload_is_half_random() {
        let p = payload(1024);
        assert_eq!(p.len(), 1024);
        assert!(p[512..].iter().all(|b| *b == 0));
        let distinct: std::collections::BTreeSet<u8> = p[..512].iter().copied().collect();
        assert!(distinct.len() > 200, "{}", distinct.len());
    }
}
