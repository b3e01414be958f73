//! Positions and fetching for the assigned partitions.
//!
//! One Fetch is kept in flight per leader broker. A partition is fetched again only once
//! what arrived for it has been handed out, and the next fetches go out before `poll`
//! returns its records, so the network works while the application does: one fetch of
//! read-ahead per partition, as the Java client keeps. Records are decoded on the
//! runtime's workers, off the `poll` path.
//!
//! A partition's `epoch` changes whenever its position is moved from outside (seek,
//! reset, reassignment); a fetch answer or buffered chunk from an older epoch is dropped.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use brook_protocol::messages::{BrokerId, FetchRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use tokio::task::JoinSet;

use super::record::{ConsumerRecord, Decoded, decode};
use super::{ConsumerConfig, millis};
use crate::client::Client;
use crate::error::{Error, Result, check};

/// A partition by topic name and index.
pub type TopicPartition = (String, i32);

#[derive(Debug, Default)]
struct PartitionState {
    /// The next offset `poll` hands out (what a commit stores); `None` until known.
    position: Option<i64>,
    /// The next offset to fetch: past what is buffered.
    fetch_offset: i64,
    epoch: u64,
    high_watermark: Option<i64>,
    /// The position was out of range: reset it by policy, not from a committed offset.
    out_of_range: bool,
}

/// Records that arrived for one partition and are not yet handed out.
struct Chunk {
    tp: TopicPartition,
    epoch: u64,
    records: VecDeque<ConsumerRecord>,
    /// The position once every record is handed out (past trailing control batches).
    next_offset: i64,
}

/// What one fetch asked for one partition.
struct Asked {
    tp: TopicPartition,
    offset: i64,
    epoch: u64,
}

enum Answer {
    Records { decoded: Decoded, high_watermark: i64 },
    Refused(i16),
    Corrupt(String),
}

struct Fetched {
    broker: i32,
    answers: Result<Vec<(Asked, Answer)>>,
}

/// Settings a fetch task needs, copied out of the config.
#[derive(Clone, Copy)]
struct FetchSettings {
    max_wait: Duration,
    min_bytes: i32,
    max_bytes: i32,
    partition_max_bytes: i32,
    check_crcs: bool,
}

pub(crate) struct Fetcher {
    partitions: BTreeMap<TopicPartition, PartitionState>,
    buffer: VecDeque<Chunk>,
    in_flight: JoinSet<Fetched>,
    busy: HashSet<i32>,
    /// Brokers whose last fetch failed, not asked again before the instant.
    backoff: HashMap<i32, Instant>,
    leaders: HashMap<TopicPartition, i32>,
    leaders_stale: bool,
    last_refresh: Option<Instant>,
    next_epoch: u64,
}

impl Fetcher {
    pub(crate) fn new() -> Self {
        Fetcher {
            partitions: BTreeMap::new(),
            buffer: VecDeque::new(),
            in_flight: JoinSet::new(),
            busy: HashSet::new(),
            backoff: HashMap::new(),
            leaders: HashMap::new(),
            leaders_stale: true,
            last_refresh: None,
            next_epoch: 0,
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// Replaces the assignment. Partitions kept keep their positions.
    pub(crate) fn assign(&mut self, partitions: &[TopicPartition]) {
        let mut next = BTreeMap::new();
        for tp in partitions {
            let state = match self.partitions.remove(tp) {
                Some(state) => state,
                None => PartitionState {
                    epoch: self.bump(),
                    ..PartitionState::default()
                },
            };
            next.insert(tp.clone(), state);
        }
        self.partitions = next;
        let partitions = &self.partitions;
        self.buffer.retain(|c| partitions.contains_key(&c.tp));
        self.leaders_stale = true;
    }

    pub(crate) fn assignment(&self) -> Vec<TopicPartition> {
        self.partitions.keys().cloned().collect()
    }

    pub(crate) fn is_assigned(&self, tp: &TopicPartition) -> bool {
        self.partitions.contains_key(tp)
    }

    /// Moves a partition's position; what was buffered or in flight for it is dropped.
    pub(crate) fn seek(&mut self, tp: &TopicPartition, offset: i64) {
        let epoch = self.bump();
        if let Some(state) = self.partitions.get_mut(tp) {
            state.position = Some(offset);
            state.fetch_offset = offset;
            state.epoch = epoch;
            state.out_of_range = false;
        }
        self.buffer.retain(|c| &c.tp != tp);
    }

    pub(crate) fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp)?.position
    }

    pub(crate) fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp)?.high_watermark
    }

    /// Positions of the partitions that have one.
    pub(crate) fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.partitions
            .iter()
            .filter_map(|(tp, s)| Some((tp.clone(), s.position?)))
            .collect()
    }

    /// Partitions without a position: `(partition, out of range)`. One out of range is
    /// reset by policy; another first looks for a committed offset.
    pub(crate) fn unpositioned(&self) -> Vec<(TopicPartition, bool)> {
        self.partitions
            .iter()
            .filter(|(_, s)| s.position.is_none())
            .map(|(tp, s)| (tp.clone(), s.out_of_range))
            .collect()
    }

    /// Whether every assigned partition has been read to its high watermark.
    pub(crate) fn at_end(&self) -> bool {
        self.partitions
            .values()
            .all(|s| matches!((s.position, s.high_watermark), (Some(p), Some(hw)) if p >= hw))
    }

    /// Up to `max` buffered records, in arrival order per partition; advances positions.
    pub(crate) fn take_records(&mut self, max: usize) -> Vec<ConsumerRecord> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(chunk) = self.buffer.front_mut() else { break };
            let Some(state) = self.partitions.get_mut(&chunk.tp).filter(|s| s.epoch == chunk.epoch) else {
                self.buffer.pop_front();
                continue;
            };
            let take = chunk.records.len().min(max - out.len());
            out.extend(chunk.records.drain(..take));
            if let Some(last) = out.last() {
                state.position = Some(last.offset + 1);
            }
            if chunk.records.is_empty() {
                state.position = Some(chunk.next_offset);
                self.buffer.pop_front();
            }
        }
        out
    }

    fn is_buffered(&self, tp: &TopicPartition) -> bool {
        self.buffer.iter().any(|c| &c.tp == tp)
    }

    /// Sends a Fetch to every leader that has fetchable partitions and none in flight.
    pub(crate) async fn send_fetches(&mut self, client: &Arc<Client>, config: &ConsumerConfig) {
        let unled = self.partitions.keys().any(|tp| !self.leaders.contains_key(tp));
        if self.leaders_stale || unled {
            self.refresh_leaders(client, config.retry_backoff).await;
        }
        let now = Instant::now();
        self.backoff.retain(|_, until| *until > now);
        let mut by_leader: BTreeMap<i32, Vec<Asked>> = BTreeMap::new();
        for (tp, state) in &self.partitions {
            let Some(&leader) = self.leaders.get(tp) else { continue };
            if state.position.is_none()
                || self.busy.contains(&leader)
                || self.backoff.contains_key(&leader)
                || self.is_buffered(tp)
            {
                continue;
            }
            by_leader.entry(leader).or_default().push(Asked {
                tp: tp.clone(),
                offset: state.fetch_offset,
                epoch: state.epoch,
            });
        }
        let settings = FetchSettings {
            max_wait: config.fetch_max_wait,
            min_bytes: config.fetch_min_bytes,
            max_bytes: config.fetch_max_bytes,
            partition_max_bytes: config.max_partition_fetch_bytes,
            check_crcs: config.check_crcs,
        };
        for (broker, asked) in by_leader {
            self.busy.insert(broker);
            let client = Arc::clone(client);
            self.in_flight.spawn(async move {
                let answers = fetch(&client, broker, &asked, settings)
                    .await
                    .map(|answers| asked.into_iter().zip(answers).collect());
                Fetched { broker, answers }
            });
        }
    }

    /// Looks up the assigned partitions' leaders, at most once per `backoff`.
    async fn refresh_leaders(&mut self, client: &Client, backoff: Duration) {
        if self.last_refresh.is_some_and(|at| at.elapsed() < backoff) {
            return;
        }
        self.last_refresh = Some(Instant::now());
        let mut topics: Vec<String> = self.partitions.keys().map(|(t, _)| t.clone()).collect();
        topics.dedup();
        if topics.is_empty() {
            return;
        }
        match client.existing_topics(&topics).await {
            Ok(found) => {
                self.leaders.clear();
                for topic in found {
                    for p in topic.partitions.into_iter().filter(|p| p.leader >= 0) {
                        self.leaders.insert((topic.name.clone(), p.partition), p.leader);
                    }
                }
                self.leaders_stale = false;
            }
            Err(error) => tracing::debug!(%error, "metadata refresh failed"),
        }
    }

    /// Waits until a fetch answers or `deadline` passes, and takes in the answer.
    pub(crate) async fn wait(&mut self, deadline: Instant, backoff: Duration) -> Result<()> {
        if self.in_flight.is_empty() {
            // Nothing to wait for (no leader known, no position yet): try again soon.
            tokio::time::sleep_until(deadline.min(Instant::now() + backoff).into()).await;
            return Ok(());
        }
        match tokio::time::timeout_at(deadline.into(), self.in_flight.join_next()).await {
            Ok(Some(Ok(fetched))) => self.take_in(fetched, backoff),
            Ok(Some(Err(join_error))) => Err(Error::Unexpected(format!("fetch task failed: {join_error}"))),
            Ok(None) | Err(_) => Ok(()),
        }
    }

    fn take_in(&mut self, fetched: Fetched, backoff: Duration) -> Result<()> {
        self.busy.remove(&fetched.broker);
        let answers = match fetched.answers {
            Ok(answers) => answers,
            Err(error) => {
                tracing::debug!(broker = fetched.broker, %error, "fetch failed");
                self.backoff.insert(fetched.broker, Instant::now() + backoff);
                self.leaders_stale = true;
                return Ok(());
            }
        };
        for (asked, answer) in answers {
            let Some(state) = self
                .partitions
                .get_mut(&asked.tp)
                .filter(|s| s.epoch == asked.epoch && s.fetch_offset == asked.offset)
            else {
                continue; // moved since the fetch left
            };
            match answer {
                Answer::Records {
                    decoded,
                    high_watermark,
                } => {
                    if high_watermark >= 0 {
                        state.high_watermark = Some(high_watermark);
                    }
                    let Some(next_offset) = decoded.next_offset else {
                        continue;
                    };
                    state.fetch_offset = next_offset;
                    if decoded.records.is_empty() {
                        state.position = Some(next_offset);
                    } else {
                        self.buffer.push_back(Chunk {
                            tp: asked.tp,
                            epoch: asked.epoch,
                            records: decoded.records.into(),
                            next_offset,
                        });
                    }
                }
                Answer::Refused(code) if code == ErrorCode::OffsetOutOfRange.code() => {
                    tracing::info!(topic = %asked.tp.0, partition = asked.tp.1, offset = asked.offset,
                        "offset out of range; resetting");
                    state.position = None;
                    state.out_of_range = true;
                }
                Answer::Refused(code) if leader_changed(code) => self.leaders_stale = true,
                Answer::Refused(code) => {
                    return Err(Error::kafka(
                        code,
                        format!("fetching {}-{} at offset {}", asked.tp.0, asked.tp.1, asked.offset),
                    ));
                }
                Answer::Corrupt(reason) => {
                    return Err(Error::Corrupt {
                        topic: asked.tp.0,
                        partition: asked.tp.1,
                        offset: asked.offset,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Refusals that mean "ask the metadata who leads now".
fn leader_changed(code: i16) -> bool {
    [
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::LeaderNotAvailable,
        ErrorCode::UnknownTopicOrPartition,
        ErrorCode::FencedLeaderEpoch,
        ErrorCode::UnknownLeaderEpoch,
        ErrorCode::KafkaStorageError,
        ErrorCode::ReplicaNotAvailable,
    ]
    .iter()
    .any(|e| e.code() == code)
}

/// One Fetch to `broker`; one answer per `asked`, in its order.
async fn fetch(client: &Client, broker: i32, asked: &[Asked], settings: FetchSettings) -> Result<Vec<Answer>> {
    let connection = client.broker(broker).await?;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for a in asked {
        let partition = FetchPartition::default()
            .with_partition(a.tp.1)
            .with_current_leader_epoch(-1)
            .with_fetch_offset(a.offset)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(settings.partition_max_bytes);
        match topics.last_mut().filter(|t| t.topic.0.as_str() == a.tp.0) {
            Some(topic) => topic.partitions.push(partition),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(a.tp.0.clone())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(millis(settings.max_wait))
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.max_bytes)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    // Up to v12: topics by name (v13 moved to topic ids).
    let version = connection.version(ApiKey::Fetch, 4, 12)?;
    let ResponseKind::Fetch(response) = connection
        .call(ApiKey::Fetch, version, RequestKind::Fetch(request))
        .await?
    else {
        return Err(Error::not_a("Fetch"));
    };
    check(response.error_code, || format!("fetching from broker {broker}"))?;
    let mut by_partition: HashMap<(&str, i32), _> = HashMap::new();
    for topic in &response.responses {
        for p in &topic.partitions {
            by_partition.insert((topic.topic.0.as_str(), p.partition_index), p);
        }
    }
    let mut answers = Vec::with_capacity(asked.len());
    for a in asked {
        let topic: Arc<str> = Arc::from(a.tp.0.as_str());
        let answer = match by_partition.get(&(a.tp.0.as_str(), a.tp.1)) {
            None => Answer::Records {
                decoded: Decoded::default(),
                high_watermark: -1,
            },
            Some(p) if p.error_code != 0 => Answer::Refused(p.error_code),
            Some(p) => {
                let records = p.records.clone().unwrap_or_default();
                match decode(&topic, a.tp.1, &records, a.offset, settings.check_crcs) {
                    Ok(decoded) => Answer::Records {
                        decoded,
                        high_watermark: p.high_watermark,
                    },
                    Err(e) => Answer::Corrupt(e.to_string()),
                }
            }
        };
        answers.push(answer);
    }
    Ok(answers)
}
