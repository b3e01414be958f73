//! The producer: records are appended to a per-partition batch (encoded as they arrive,
//! no object per record), and a sender task ships a partition's batch once it is full,
//! once it is `linger` old, or on `flush`, grouping ready batches by leader into one
//! Produce request per broker. Retriable errors (a leader moved, too few in-sync
//! replicas, a lost connection) are retried with backoff until `delivery_timeout`.
//!
//! By default one batch of a partition is in flight at a time, so order within a
//! partition holds across retries; different partitions are in flight together. Raising
//! `max_in_flight` sends a partition's next batches, in order on the same connection,
//! before the first is answered; as with Kafka's clients without idempotence, a batch
//! retried after a failure can then land after a later one.
//!
//! ```no_run
//! # async fn example() -> brook_client::Result<()> {
//! use std::sync::Arc;
//! use brook_client::{Client, ClientConfig, Producer, ProducerConfig, Record};
//!
//! let client = Arc::new(Client::new(ClientConfig::new("127.0.0.1:9092")));
//! let producer = Producer::new(client, ProducerConfig::default());
//! let delivery = producer.send(Record::new("orders").key(b"user-1").value(b"paid")).await?;
//! let landed = delivery.wait().await?;
//! println!("partition {} offset {}", landed.partition, landed.offset);
//! producer.flush().await;
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{ProduceRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::records::{BatchBuilder, Compression, HeaderRef};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use bytes::Bytes;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::connection::{Pending, Written};
use crate::delivery::{BatchOutcome, DeliveryFuture};
use crate::error::{Error, Result};
use crate::partitioner::partition_for_key;

/// How many acknowledgements a write waits for (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// No answer at all (`acks=0`): offsets are unknown, failures unseen.
    None,
    /// The leader's (`acks=1`).
    Leader,
    /// Every in-sync replica's (`acks=all`).
    All,
}

impl Acks {
    fn code(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// How long a batch waits for more records (`linger.ms`).
    pub linger: Duration,
    /// A batch is sent once it holds this many bytes, uncompressed (`batch.size`).
    pub batch_size: usize,
    pub compression: Compression,
    /// How long a record may take, retries included (`delivery.timeout.ms`).
    pub delivery_timeout: Duration,
    /// The wait before a retry (`retry.backoff.ms`).
    pub retry_backoff: Duration,
    /// Bytes of records waiting to be acknowledged before `send` waits (`buffer.memory`).
    pub buffer_memory: usize,
    /// How long `send` waits for a new topic's metadata (`max.block.ms`).
    pub max_block: Duration,
    /// Batches of one partition in flight at once (Kafka's
    /// `max.in.flight.requests.per.connection`; each request carries at most one batch
    /// of a partition). Above 1, a retry can reorder a partition's batches; the default
    /// is 1, not Java's 5, because Java keeps order there through idempotence, which this
    /// producer does not have.
    pub max_in_flight: usize,
}

impl Default for ProducerConfig {
    /// The Java client's defaults (Kafka 4): acks=all, 5 ms linger, 16 KiB batches.
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16 * 1024,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            retry_backoff: Duration::from_millis(100),
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            max_in_flight: 1,
        }
    }
}

/// One record to send; borrowed, so building one allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub topic: &'a str,
    /// `None`: by the key's murmur2 hash, or the sticky partition for unkeyed records.
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [HeaderRef<'a>],
    /// Milliseconds since the epoch; `None`: now.
    pub timestamp: Option<i64>,
}

impl<'a> Record<'a> {
    pub fn new(topic: &'a str) -> Self {
        Record {
            topic,
            partition: None,
            key: None,
            value: None,
            headers: &[],
            timestamp: None,
        }
    }

    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }

    pub fn value(mut self, value: &'a [u8]) -> Self {
        self.value = Some(value);
        self
    }

    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    pub fn headers(mut self, headers: &'a [HeaderRef<'a>]) -> Self {
        self.headers = headers;
        self
    }

    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// What the record holds in memory while it waits, roughly.
    fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
            .sum();
        24 + self.key.map_or(0, <[u8]>::len) + self.value.map_or(0, <[u8]>::len) + headers
    }
}

/// Records of one partition being collected.
struct OpenBatch {
    builder: BatchBuilder,
    created: Instant,
    outcome: Arc<BatchOutcome>,
    /// Buffer-memory permits it holds, released when it completes.
    permits: usize,
}

#[derive(Default)]
struct PartitionQueue {
    /// Full batches waiting their turn, oldest first; then the one being filled.
    full: VecDeque<OpenBatch>,
    open: Option<OpenBatch>,
    /// Batches sent and not yet completed.
    in_flight: usize,
}

impl PartitionQueue {
    /// Moves the open batch to the full ones if `close` says so; whether it did.
    fn close_open_if(&mut self, close: impl Fn(&OpenBatch) -> bool) -> bool {
        match self.open.take_if(|b| close(b)) {
            Some(batch) => {
                self.full.push_back(batch);
                true
            }
            None => false,
        }
    }
}

struct TopicState {
    /// Leaders by partition, from the last metadata.
    leaders: Vec<i32>,
    partitions: Vec<PartitionQueue>,
    /// Where unkeyed records go until that partition's batch leaves.
    sticky: usize,
}

#[derive(Default)]
struct State {
    /// By name, hashed with FxHash: looked up for every record, and the names are the
    /// application's own (SipHash's defence against chosen keys buys nothing here).
    topics: FxHashMap<String, TopicState>,
    /// Batches created and not yet completed (what `flush` waits for).
    unfinished: usize,
    flushing: usize,
}

struct Shared {
    client: Arc<Client>,
    config: ProducerConfig,
    state: Mutex<State>,
    /// Wakes the sender: a batch filled up, a batch completed, or a flush began.
    wake: Notify,
    /// Wakes `flush` callers when batches complete.
    completed: Notify,
    memory: Semaphore,
}

pub struct Producer {
    shared: Arc<Shared>,
    sender: JoinHandle<()>,
}

impl Drop for Producer {
    /// Records not yet sent are dropped with the producer: call `flush` first.
    fn drop(&mut self) {
        self.sender.abort();
    }
}

impl Producer {
    pub fn new(client: Arc<Client>, config: ProducerConfig) -> Producer {
        let shared = Arc::new(Shared {
            client,
            memory: Semaphore::new(config.buffer_memory.max(1)),
            config,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            completed: Notify::new(),
        });
        let sender = tokio::spawn(run_sender(Arc::clone(&shared)));
        Producer { shared, sender }
    }

    /// Queues a record; the future resolves when it is acknowledged (or has failed).
    /// Waits while `buffer_memory` bytes are already waiting.
    pub async fn send(&self, record: Record<'_>) -> Result<DeliveryFuture> {
        let shared = &self.shared;
        if !shared.state.lock().topics.contains_key(record.topic) {
            self.load_topic(record.topic).await?;
        }
        let permits = record.size().min(shared.config.buffer_memory.max(1));
        shared
            .memory
            .acquire_many(permits as u32)
            .await
            .map_err(|_| Error::Unexpected("the producer is closed".into()))?
            .forget();
        let mut state = shared.state.lock();
        let State { topics, unfinished, .. } = &mut *state;
        let topic = topics
            .get_mut(record.topic)
            .ok_or_else(|| Error::Unexpected(format!("topic {} vanished", record.topic)))?;
        let count = topic.partitions.len();
        let mut partition = match (record.partition, record.key) {
            (Some(p), _) if p >= 0 && (p as usize) < count => p as usize,
            (Some(p), _) => {
                shared.memory.add_permits(permits);
                return Err(Error::kafka(
                    ErrorCode::UnknownTopicOrPartition.code(),
                    format!("{} has no partition {p}", record.topic),
                ));
            }
            (None, Some(key)) => partition_for_key(key, count as i32) as usize,
            (None, None) => topic.sticky % count,
        };
        let config = &shared.config;
        let sticky = record.partition.is_none() && record.key.is_none();
        let record_size = record.size();
        // A batch this record would overflow leaves first; an unkeyed record then moves
        // on with the sticky partition.
        let overflows =
            |b: &OpenBatch| !b.builder.is_empty() && b.builder.size_estimate() + record_size > config.batch_size;
        if topic.partitions[partition].close_open_if(overflows) {
            shared.wake.notify_one();
            if sticky {
                topic.sticky = topic.sticky.wrapping_add(1);
                partition = topic.sticky % count;
            }
        }
        let queue = &mut topic.partitions[partition];
        let batch = queue.open.get_or_insert_with(|| {
            *unfinished += 1;
            // The sender may be asleep with no deadline (nothing was open): it must learn
            // this batch's linger deadline, or a slow trickle would leave only when a
            // batch fills.
            shared.wake.notify_one();
            OpenBatch {
                // A record that would take a batch past batch.size starts the next one,
                // so reserving batch.size up front keeps the batch from being copied as it
                // grows (only a record larger than batch.size on its own, or a size
                // estimate a few varint bytes short, costs one reallocation).
                builder: BatchBuilder::new(config.compression).with_capacity(config.batch_size),
                created: Instant::now(),
                outcome: BatchOutcome::new(),
                permits: 0,
            }
        });
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        batch
            .builder
            .append(timestamp, record.key, record.value, record.headers);
        batch.permits += permits;
        let index = batch.builder.len() as i32 - 1;
        let delivery = DeliveryFuture::new(Arc::clone(&batch.outcome), index);
        // A batch that reached batch.size leaves without waiting for linger.
        if queue.close_open_if(|b| b.builder.size_estimate() >= config.batch_size) {
            shared.wake.notify_one();
            if sticky {
                topic.sticky = topic.sticky.wrapping_add(1);
            }
        }
        Ok(delivery)
    }

    /// Sends everything queued and waits until all of it is acknowledged or failed.
    pub async fn flush(&self) {
        let shared = &self.shared;
        shared.state.lock().flushing += 1;
        shared.wake.notify_one();
        loop {
            let done = shared.completed.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if shared.state.lock().unfinished == 0 {
                break;
            }
            done.await;
        }
        shared.state.lock().flushing -= 1;
    }

    /// The topic's partitions and leaders. A topic being created (`LEADER_NOT_AVAILABLE`,
    /// also what auto-creation answers first) is asked again until `max_block`.
    async fn load_topic(&self, topic: &str) -> Result<()> {
        let shared = &self.shared;
        let started = Instant::now();
        let info = loop {
            match shared.client.topics_for_producing(&[topic.to_owned()]).await {
                Err(e)
                    if e.kafka_code() == Some(ErrorCode::LeaderNotAvailable.code())
                        && started.elapsed() < shared.config.max_block =>
                {
                    tokio::time::sleep(shared.config.retry_backoff).await;
                }
                other => break other?,
            }
        };
        let info = info
            .into_iter()
            .next()
            .filter(|t| !t.partitions.is_empty())
            .ok_or_else(|| Error::kafka(ErrorCode::UnknownTopicOrPartition.code(), format!("topic {topic}")))?;
        let mut state = self.shared.state.lock();
        state.topics.entry(topic.to_owned()).or_insert_with(|| TopicState {
            leaders: info.partitions.iter().map(|p| p.leader).collect(),
            partitions: (0..info.partitions.len()).map(|_| PartitionQueue::default()).collect(),
            sticky: now_ms() as usize,
        });
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How long the leader may wait for the ISR on `acks=all` (Kafka's `request.timeout.ms`).
const PRODUCE_TIMEOUT_MS: i32 = 30_000;

/// A batch on its way: encoded once, resent as is on a retry.
struct Flight {
    topic: String,
    partition: i32,
    records: Bytes,
    created: Instant,
    outcome: Arc<BatchOutcome>,
    permits: usize,
}

async fn run_sender(shared: Arc<Shared>) {
    loop {
        let (ready, next_deadline) = take_ready(&shared);
        let mut by_leader: HashMap<i32, Vec<Flight>> = HashMap::new();
        for Ready {
            leader,
            topic,
            partition,
            batch,
        } in ready
        {
            match seal(topic, partition, batch) {
                (flight, None) => by_leader.entry(leader).or_default().push(flight),
                (flight, Some(error)) => finish(&shared, flight, Err((ErrorCode::InvalidRecord.code(), error))),
            }
        }
        let sent_any = !by_leader.is_empty();
        for (leader, flights) in by_leader {
            // Sent from this one task, so a partition's batches go out in order; the
            // answers are awaited elsewhere.
            let sent = send_produce(&shared, leader, &flights).await;
            tokio::spawn(deliver(Arc::clone(&shared), flights, sent));
        }
        if sent_any {
            continue; // more batches of the same partitions may be ready to follow
        }
        let wake = shared.wake.notified();
        match next_deadline {
            Some(deadline) => {
                let _ = tokio::time::timeout_at(deadline.into(), wake).await;
            }
            None => wake.await,
        }
    }
}

/// The batches to send now (full, lingered long enough, or flushed), each partition's
/// oldest first and only where none is in flight; and when the next open batch is due.
/// A batch taken for sending, with where it goes.
struct Ready {
    leader: i32,
    topic: String,
    partition: i32,
    batch: OpenBatch,
}

fn take_ready(shared: &Shared) -> (Vec<Ready>, Option<Instant>) {
    let linger = shared.config.linger;
    let max_in_flight = shared.config.max_in_flight.max(1);
    let mut state = shared.state.lock();
    let flushing = state.flushing > 0;
    let now = Instant::now();
    let mut ready = Vec::new();
    let mut next: Option<Instant> = None;
    for (name, topic) in &mut state.topics {
        let count = topic.partitions.len();
        for (index, queue) in topic.partitions.iter_mut().enumerate() {
            if queue.in_flight >= max_in_flight {
                continue;
            }
            let batch = match queue.full.pop_front() {
                Some(full) => Some(full),
                None => match &queue.open {
                    Some(open) if flushing || open.created + linger <= now => {
                        // The sticky partition's batch left: unkeyed records move on.
                        if index == topic.sticky % count {
                            topic.sticky = topic.sticky.wrapping_add(1);
                        }
                        queue.open.take()
                    }
                    Some(open) => {
                        let due = open.created + linger;
                        next = Some(next.map_or(due, |n| n.min(due)));
                        None
                    }
                    None => None,
                },
            };
            if let Some(batch) = batch {
                queue.in_flight += 1;
                let leader = topic.leaders.get(index).copied().unwrap_or(-1);
                ready.push(Ready {
                    leader,
                    topic: name.clone(),
                    partition: index as i32,
                    batch,
                });
            }
        }
    }
    (ready, next)
}

/// The batch encoded (and compressed), with the error if it cannot be (only an
/// impossible batch, too many records for the format, fails).
fn seal(topic: String, partition: i32, mut batch: OpenBatch) -> (Flight, Option<String>) {
    let (records, error) = match batch.builder.finish() {
        Ok(records) => (records, None),
        Err(e) => (Bytes::new(), Some(e.to_string())),
    };
    let flight = Flight {
        topic,
        partition,
        records,
        created: batch.created,
        outcome: batch.outcome,
        permits: batch.permits,
    };
    (flight, error)
}

/// Errors a retry may cure (Kafka marks them retriable).
fn retriable(code: i16) -> bool {
    ErrorCode::try_from_code(code).is_some_and(|e| e.is_retriable())
}

/// Completes `flights`, sent in one request, from its answer; retries what failed
/// retriably, one batch at a time, at whichever broker leads it then.
async fn deliver(shared: Arc<Shared>, flights: Vec<Flight>, sent: Result<Sent>) {
    let mut retry = Vec::new();
    match answered(sent, &flights).await {
        Ok(codes) => {
            for (flight, (code, base)) in flights.into_iter().zip(codes) {
                if code == 0 {
                    finish(&shared, flight, Ok(base));
                } else if retriable(code) {
                    retry.push((flight, code));
                } else {
                    finish(&shared, flight, Err((code, String::new())));
                }
            }
        }
        Err(error) => {
            let code = error.kafka_code().unwrap_or(ErrorCode::NetworkException.code());
            retry.extend(flights.into_iter().map(|f| (f, code)));
        }
    }
    for (flight, mut code) in retry {
        loop {
            if flight.created.elapsed() >= shared.config.delivery_timeout {
                finish(&shared, flight, Err((code, "delivery timeout".into())));
                break;
            }
            tokio::time::sleep(shared.config.retry_backoff).await;
            let leader = refresh_leader(&shared, &flight.topic, flight.partition).await;
            let (next_code, base) = match produce(&shared, leader, std::slice::from_ref(&flight)).await {
                Ok(codes) => codes[0],
                Err(error) => (error.kafka_code().unwrap_or(ErrorCode::NetworkException.code()), -1),
            };
            code = next_code;
            if code == 0 {
                finish(&shared, flight, Ok(base));
                break;
            }
            if !retriable(code) {
                finish(&shared, flight, Err((code, String::new())));
                break;
            }
        }
    }
}

/// One Produce request, answered; `(error code, base offset)` per flight, in order.
async fn produce(shared: &Shared, leader: i32, flights: &[Flight]) -> Result<Vec<(i16, i64)>> {
    answered(send_produce(shared, leader, flights).await, flights).await
}

/// A Produce request on its way: its answer to come, or with `acks=0` its write.
enum Sent {
    Answer(Pending),
    Written(Written),
}

/// Sends one Produce request for `flights`.
async fn send_produce(shared: &Shared, leader: i32, flights: &[Flight]) -> Result<Sent> {
    if leader < 0 {
        return Err(Error::kafka(ErrorCode::LeaderNotAvailable.code(), "no leader"));
    }
    let connection = shared.client.broker(leader).await?;
    let version = connection.version(ApiKey::Produce, 3, 12)?;
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for flight in flights {
        let data = PartitionProduceData::default()
            .with_index(flight.partition)
            .with_records(Some(flight.records.clone()));
        match topics.iter_mut().find(|t| t.name.0.as_str() == flight.topic) {
            Some(topic) => topic.partition_data.push(data),
            None => topics.push(
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(flight.topic.clone())))
                    .with_partition_data(vec![data]),
            ),
        }
    }
    let acks = shared.config.acks;
    let request = ProduceRequest::default()
        .with_acks(acks.code())
        .with_timeout_ms(PRODUCE_TIMEOUT_MS)
        .with_topic_data(topics);
    if acks == Acks::None {
        let written = connection
            .send_only(ApiKey::Produce, version, RequestKind::Produce(request))
            .await?;
        return Ok(Sent::Written(written));
    }
    let timeout = connection.timeout();
    let pending = connection
        .send(ApiKey::Produce, version, RequestKind::Produce(request), timeout)
        .await?;
    Ok(Sent::Answer(pending))
}

/// `(error code, base offset)` per flight from the answer to a Produce request; with
/// `acks=0`, success (offset unknown) once it is written, so a flush that returns has
/// put every record on the socket.
async fn answered(sent: Result<Sent>, flights: &[Flight]) -> Result<Vec<(i16, i64)>> {
    let pending = match sent? {
        Sent::Answer(pending) => pending,
        Sent::Written(written) => {
            written.done().await?;
            return Ok(flights.iter().map(|_| (0, -1)).collect());
        }
    };
    let ResponseKind::Produce(response) = pending.response().await? else {
        return Err(Error::not_a("Produce"));
    };
    Ok(flights
        .iter()
        .map(|flight| {
            response
                .responses
                .iter()
                .filter(|t| t.name.0.as_str() == flight.topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == flight.partition)
                .map_or((ErrorCode::UnknownServerError.code(), -1), |p| {
                    (p.error_code, p.base_offset)
                })
        })
        .collect())
}

/// The partition's leader after a fresh look at the metadata.
async fn refresh_leader(shared: &Shared, topic: &str, partition: i32) -> i32 {
    let Ok(info) = shared.client.topics(Some(&[topic.to_owned()])).await else {
        return -1;
    };
    let Some(info) = info.into_iter().next() else {
        return -1;
    };
    let leaders: Vec<i32> = info.partitions.iter().map(|p| p.leader).collect();
    let leader = leaders.get(partition as usize).copied().unwrap_or(-1);
    if let Some(state) = shared.state.lock().topics.get_mut(topic) {
        state.leaders = leaders;
    }
    leader
}

/// Completes a batch: its records learn the result, its memory and partition free up.
fn finish(shared: &Shared, flight: Flight, result: std::result::Result<i64, (i16, String)>) {
    let partition = flight.partition;
    flight.outcome.complete(result.map(|base| (partition, base)));
    shared.memory.add_permits(flight.permits);
    {
        let mut state = shared.state.lock();
        state.unfinished -= 1;
        if let Some(queue) = state
            .topics
            .get_mut(&flight.topic)
            .and_then(|t| t.partitions.get_mut(partition as usize))
        {
            queue.in_flight = queue.in_flight.saturating_sub(1);
        }
    }
    shared.completed.notify_waiters();
    shared.wake.notify_one();
}
