//! Follower replication (docs/architecture.md): one task per leader broker fetches every
//! partition this broker follows from that leader, as a Kafka Fetch with this broker's
//! id as `replica_id`, from each partition's log end; what arrives is appended with the
//! leader's offsets and epochs, and the follower's high watermark follows the leader's.
//!
//! Before the first fetch under a new leader epoch, the follower asks the leader
//! (OffsetForLeaderEpoch) where its own latest epoch ends there and truncates what the
//! leader does not have (KIP-101/279), so a divergent tail from an old leader is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use brook_client::BrokerConnection;
use brook_controller_client::MetadataCache;
use brook_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use brook_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use brook_protocol::messages::{
    BrokerId, FetchRequest, OffsetForLeaderEpochRequest, RequestKind, ResponseKind, TopicName,
};
use brook_protocol::rpc::metadata::BrokerNodeId;
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::follow::Fetched;
use super::log_write;
use super::{Partition, ReplicaManager};
use crate::log::{LogError, UNDEFINED_EPOCH};

/// How long a follower's fetch waits at the leader for new data.
const FETCH_MAX_WAIT_MS: i32 = 500;
const FETCH_MAX_BYTES: i32 = 16 << 20;
const PARTITION_MAX_BYTES: i32 = 1 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The fetcher tasks, one per leader this broker follows partitions of.
pub struct ReplicaFetchers {
    broker_id: BrokerNodeId,
    metadata: MetadataCache,
    fetchers: Mutex<HashMap<BrokerNodeId, Fetcher>>,
}

struct Fetcher {
    /// Shared, so each fetch round takes the current list without copying it.
    partitions: watch::Sender<Arc<Vec<Arc<Partition>>>>,
    task: JoinHandle<()>,
}

impl Drop for ReplicaFetchers {
    fn drop(&mut self) {
        for fetcher in self.fetchers.lock().values() {
            fetcher.task.abort();
        }
    }
}

impl ReplicaFetchers {
    pub fn new(broker_id: BrokerNodeId, metadata: MetadataCache) -> Self {
        ReplicaFetchers {
            broker_id,
            metadata,
            fetchers: Mutex::new(HashMap::new()),
        }
    }

    /// Points each leader's fetcher at the partitions this broker now follows from it,
    /// starting and stopping fetchers as leaders come and go. Called after every
    /// metadata change.
    pub fn reconcile(&self, replicas: &ReplicaManager) {
        let mut by_leader: HashMap<BrokerNodeId, Vec<Arc<Partition>>> = HashMap::new();
        for partition in replicas.partitions() {
            let leader = partition.leader();
            if leader >= 0 && leader != self.broker_id {
                by_leader.entry(leader).or_default().push(partition);
            }
        }
        let mut fetchers = self.fetchers.lock();
        fetchers.retain(|leader, fetcher| {
            let keep = by_leader.contains_key(leader);
            if !keep {
                fetcher.task.abort();
            }
            keep
        });
        for (leader, partitions) in by_leader {
            match fetchers.get(&leader) {
                Some(fetcher) => {
                    fetcher.partitions.send_replace(Arc::new(partitions));
                }
                None => {
                    let (sender, receiver) = watch::channel(Arc::new(partitions));
                    let session = FetchSession {
                        me: self.broker_id,
                        leader,
                        metadata: self.metadata.clone(),
                        connection: None,
                        agreed_epochs: HashMap::new(),
                    };
                    let task = tokio::spawn(session.run(receiver));
                    fetchers.insert(
                        leader,
                        Fetcher {
                            partitions: sender,
                            task,
                        },
                    );
                }
            }
        }
    }
}

/// Why a round of fetching stopped early.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("leader {0} has no address in the metadata")]
    NoAddress(BrokerNodeId),
    #[error(transparent)]
    Client(#[from] brook_client::Error),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("the leader answered {0:?}")]
    Refused(ErrorCode),
    #[error("unexpected answer from the leader")]
    Unexpected,
}

struct FetchSession {
    me: BrokerNodeId,
    leader: BrokerNodeId,
    metadata: MetadataCache,
    connection: Option<BrokerConnection>,
    /// The leader epoch each partition's log was last reconciled with the leader for.
    agreed_epochs: HashMap<PartitionKey, i32>,
}

impl FetchSession {
    async fn run(mut self, mut partitions: watch::Receiver<Arc<Vec<Arc<Partition>>>>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            if partitions.has_changed().unwrap_or(false) {
                // Forget partitions no longer followed from this leader.
                let current = partitions.borrow();
                self.agreed_epochs.retain(|k, _| current.iter().any(|p| key(p) == *k));
            }
            let current = Arc::clone(&partitions.borrow_and_update());
            match self.round(&current).await {
                Ok(progressed) if progressed => {
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(leader = self.leader, error = %e, "replica fetch failed");
                    if matches!(e, FetchError::Client(_)) {
                        self.connection = None;
                    }
                }
            }
            // Nothing to do, or trouble: wait a little, or for new partitions.
            let _ = tokio::time::timeout(backoff, partitions.changed()).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One truncation check and one fetch; `Ok(true)` if partitions were fetched.
    async fn round(&mut self, partitions: &[Arc<Partition>]) -> Result<bool, FetchError> {
        self.connect().await?;
        let connection = self.connection.as_ref().expect("connected");
        let unreconciled: Vec<Arc<Partition>> = partitions
            .iter()
            .filter(|p| self.agreed_epochs.get(&key(p)) != Some(&p.leader_epoch()))
            .cloned()
            .collect();
        if !unreconciled.is_empty() {
            let agreed = reconcile_with_leader(connection, self.me, &unreconciled).await?;
            self.agreed_epochs.extend(agreed);
        }
        let ready: Vec<&Arc<Partition>> = partitions
            .iter()
            .filter(|p| self.agreed_epochs.get(&key(p)) == Some(&p.leader_epoch()))
            .collect();
        if ready.is_empty() {
            return Ok(false);
        }
        let refused = fetch_once(connection, self.me, &ready).await?;
        for partition in refused {
            // Our epoch or the leader's is stale: reconcile again once the metadata moves.
            self.agreed_epochs.remove(&key(&partition));
        }
        Ok(true)
    }

    async fn connect(&mut self) -> Result<(), FetchError> {
        if self.connection.as_ref().is_none_or(|c| !c.is_open()) {
            let address = {
                let image = self.metadata.image();
                image
                    .brokers
                    .get(&self.leader)
                    .and_then(|b| b.endpoints.first())
                    .map(|e| format!("{}:{}", e.host, e.port))
                    .ok_or(FetchError::NoAddress(self.leader))?
            };
            let client_id = format!("brook-replica-{}", self.me);
            self.connection = Some(BrokerConnection::connect(&address, &client_id, REQUEST_TIMEOUT).await?);
        }
        Ok(())
    }
}

/// A partition by topic id: copied, not allocated, on every fetch round.
type PartitionKey = (uuid::Uuid, i32);

fn key(partition: &Partition) -> PartitionKey {
    (partition.topic_id, partition.tp.partition)
}

/// The partition an answer names, among those asked about.
fn answered<'a>(
    asked: impl IntoIterator<Item = &'a Arc<Partition>>,
    topic: &str,
    partition: i32,
) -> Option<&'a Arc<Partition>> {
    asked
        .into_iter()
        .find(|p| p.tp.topic == topic && p.tp.partition == partition)
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Truncates each partition to where its log agrees with the leader's (KIP-279): the
/// leader says where our latest epoch (or the largest it has below it) ends on its side,
/// and everything after that, or after our own end of that epoch, goes. Returns the
/// leader epochs the partitions are now reconciled for.
async fn reconcile_with_leader(
    connection: &BrokerConnection,
    me: BrokerNodeId,
    partitions: &[Arc<Partition>],
) -> Result<Vec<(PartitionKey, i32)>, FetchError> {
    let mut by_topic: HashMap<&str, Vec<OffsetForLeaderPartition>> = HashMap::new();
    let mut agreed = Vec::new();
    // The epoch each question is asked under: the truncation applies only if the
    // partition is still followed at it when the answer comes.
    let mut asked_epochs: HashMap<PartitionKey, i32> = HashMap::new();
    for partition in partitions {
        let leader_epoch = partition.leader_epoch();
        asked_epochs.insert(key(partition), leader_epoch);
        match partition.log.latest_epoch() {
            // An empty log has nothing to disagree about.
            None => agreed.push((key(partition), leader_epoch)),
            Some(epoch) => by_topic.entry(&partition.tp.topic).or_default().push(
                OffsetForLeaderPartition::default()
                    .with_partition(partition.tp.partition)
                    .with_current_leader_epoch(leader_epoch)
                    .with_leader_epoch(epoch),
            ),
        }
    }
    if by_topic.is_empty() {
        return Ok(agreed);
    }
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(me))
        .with_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetForLeaderTopic::default()
                        .with_topic(TopicName(text(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    let version = connection.version(ApiKey::OffsetForLeaderEpoch, 3, 4)?;
    let ResponseKind::OffsetForLeaderEpoch(response) = connection
        .call(
            ApiKey::OffsetForLeaderEpoch,
            version,
            RequestKind::OffsetForLeaderEpoch(request),
        )
        .await?
    else {
        return Err(FetchError::Unexpected);
    };
    let mut truncations = Vec::new();
    for topic in &response.topics {
        for answer in &topic.partitions {
            let Some(partition) = answered(partitions, topic.topic.0.as_str(), answer.partition) else {
                continue;
            };
            if answer.error_code != 0 {
                tracing::debug!(topic = %partition.tp.topic, partition = answer.partition,
                    error = answer.error_code, "leader refused OffsetForLeaderEpoch");
                continue;
            }
            let target = partition.divergence_point(answer.leader_epoch, answer.end_offset);
            let epoch = asked_epochs.get(&key(partition)).copied().unwrap_or(UNDEFINED_EPOCH);
            truncations.push((Arc::clone(partition), target, epoch));
        }
    }
    let done = tokio::task::spawn_blocking(move || {
        let mut agreed = Vec::with_capacity(truncations.len());
        for (partition, target, epoch) in truncations {
            match partition.truncate_as_follower(target, epoch)? {
                // The partition moved on meanwhile: reconcile again under its new epoch.
                None => continue,
                Some(true) => {
                    tracing::info!(topic = %partition.tp.topic, partition = partition.tp.partition, offset = target,
                        "truncated to where the log agrees with the leader");
                }
                Some(false) => {}
            }
            agreed.push((key(&partition), epoch));
        }
        Ok::<_, LogError>(agreed)
    })
    .await
    .map_err(|_| FetchError::Unexpected)??;
    agreed.extend(done);
    Ok(agreed)
}

/// One Fetch for `partitions` from their log ends; appends what comes back. Returns the
/// partitions the leader refused for a leader-epoch reason.
async fn fetch_once(
    connection: &BrokerConnection,
    me: BrokerNodeId,
    partitions: &[&Arc<Partition>],
) -> Result<Vec<Arc<Partition>>, FetchError> {
    let mut by_topic: HashMap<&str, Vec<FetchPartition>> = HashMap::new();
    // What arrives is applied only under the epoch it was asked for.
    let mut asked_epochs: HashMap<PartitionKey, i32> = HashMap::new();
    for partition in partitions {
        let leader_epoch = partition.leader_epoch();
        asked_epochs.insert(key(partition), leader_epoch);
        by_topic.entry(&partition.tp.topic).or_default().push(
            FetchPartition::default()
                .with_partition(partition.tp.partition)
                .with_current_leader_epoch(leader_epoch)
                .with_fetch_offset(partition.log.log_end_offset())
                .with_log_start_offset(partition.log.log_start_offset())
                .with_partition_max_bytes(PARTITION_MAX_BYTES),
        );
    }
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(me))
        .with_max_wait_ms(FETCH_MAX_WAIT_MS)
        .with_min_bytes(1)
        .with_max_bytes(FETCH_MAX_BYTES)
        .with_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    FetchTopic::default()
                        .with_topic(TopicName(text(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    // v12: topics by name, `replica_id` in the body (v15 moved it).
    let version = connection.version(ApiKey::Fetch, 12, 12)?;
    let ResponseKind::Fetch(response) = connection
        .call(ApiKey::Fetch, version, RequestKind::Fetch(request))
        .await?
    else {
        return Err(FetchError::Unexpected);
    };
    let mut arrived: Vec<(Arc<Partition>, Fetched, i32)> = Vec::new();
    let mut refused = Vec::new();
    let mut resets: Vec<(Arc<Partition>, i64, i32)> = Vec::new();
    for topic in response.responses {
        for answer in topic.partitions {
            let Some(partition) = answered(
                partitions.iter().copied(),
                topic.topic.0.as_str(),
                answer.partition_index,
            ) else {
                continue;
            };
            let epoch = asked_epochs.get(&key(partition)).copied().unwrap_or(UNDEFINED_EPOCH);
            if answer.error_code == 0 {
                let fetched = Fetched {
                    records: answer.records.filter(|r| !r.is_empty()),
                    high_watermark: answer.high_watermark,
                    log_start_offset: answer.log_start_offset,
                };
                arrived.push((Arc::clone(partition), fetched, epoch));
                continue;
            }
            let code = ErrorCode::try_from_code(answer.error_code);
            if code == Some(ErrorCode::OffsetOutOfRange) && answer.log_start_offset > partition.log.log_end_offset() {
                // The leader no longer has what comes after our end: start over at its start.
                resets.push((Arc::clone(partition), answer.log_start_offset, epoch));
                continue;
            }
            tracing::debug!(topic = %partition.tp.topic, partition = answer.partition_index, ?code,
                "leader refused the fetch");
            match code {
                Some(
                    ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::NotLeaderOrFollower
                    | ErrorCode::OffsetOutOfRange,
                ) => refused.push(Arc::clone(partition)),
                Some(code) => return Err(FetchError::Refused(code)),
                None => return Err(FetchError::Unexpected),
            }
        }
    }
    if !arrived.is_empty() || !resets.is_empty() {
        let bytes = arrived
            .iter()
            .filter_map(|(_, fetched, _)| fetched.records.as_ref())
            .map(|r| r.len())
            .sum();
        // A reset empties a log: that is file deletion, never done in place.
        let in_place = resets.is_empty() && log_write::in_place(arrived.iter().map(|(p, _, _)| p), bytes);
        log_write::run(in_place, move || {
            for (partition, leader_start, epoch) in resets {
                partition.restart_at_leader_start(leader_start, epoch)?;
            }
            for (partition, fetched, epoch) in arrived {
                if !partition.append_fetched(&fetched, epoch)? {
                    tracing::debug!(topic = %partition.tp.topic, partition = partition.tp.partition, epoch,
                        "dropped a fetch answer from an older leader epoch");
                }
            }
            Ok::<_, LogError>(())
        })
        .await
        .ok_or(FetchError::Unexpected)??;
    }
    Ok(refused)
}
