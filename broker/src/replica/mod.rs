//! The partitions this broker hosts, kept in step with the controller's metadata: a
//! partition assigned here gets a log, one moved away or deleted loses it, and each
//! knows whether this broker leads it. `fetcher` copies followed partitions from their
//! leaders; `isr` keeps the ISR of led ones. The replicated data plane lives here too, so
//! handlers only translate wire types: `append` (produce as leader, and the `acks=all`
//! wait), `read` (fetch bounds and follower positions), both parked in `purgatory`.

mod append;
#[cfg(test)]
mod append_tests;
mod fetcher;
mod follow;
mod isr;
mod log_write;
#[cfg(test)]
mod move_tests;
mod partition;
#[cfg(test)]
mod partition_tests;
pub mod purgatory;
mod read;
#[cfg(test)]
mod topic_id_tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use brook_protocol::rpc::metadata::{BrokerNodeId, MetadataImage};
use parking_lot::RwLock;

pub use append::{Appended, Appends, ProduceAcks, ProduceOutcome, ProducePartition, append, produce};
pub use fetcher::ReplicaFetchers;
pub use follow::Fetched;
pub use isr::maintain_isr;
pub use partition::{AppendError, LeaderAppend, Partition, Replication, Role};
pub use read::{PartitionRead, Reader};

use crate::log::{LogConfig, LogManager, TopicPartition};

pub struct ReplicaManager {
    broker_id: BrokerNodeId,
    logs: Arc<LogManager>,
    log_defaults: LogConfig,
    /// By topic, then partition: a lookup borrows the request's topic name instead of
    /// building a `TopicPartition` key (an allocation per partition per request).
    partitions: RwLock<HashMap<String, HashMap<i32, Arc<Partition>>>>,
    /// The broker's lease with the controller has lapsed (see `Partition::is_leader`);
    /// every hosted partition reads this one flag.
    lease_lapsed: Arc<std::sync::atomic::AtomicBool>,
    /// Held while the hosted partitions are reshaped (a metadata change applied, a
    /// replica moved between data dirs), so the two never interleave.
    layout: parking_lot::Mutex<()>,
    /// Counts replica moves; the follower fetchers reconcile after each.
    moves: tokio::sync::watch::Sender<u64>,
}

/// What became of a request to move a replica to another data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaMove {
    Moved,
    /// It was in that dir already.
    AlreadyThere,
    /// No such data dir on this broker (`LOG_DIR_NOT_FOUND`).
    UnknownDir,
    /// This broker hosts no replica of it yet (`REPLICA_NOT_AVAILABLE`); it will be
    /// created in that dir when it comes.
    NotHosted,
    /// The move failed (`KAFKA_STORAGE_ERROR`); the log stays where it was.
    Failed(String),
}

impl ReplicaManager {
    pub fn new(broker_id: BrokerNodeId, logs: Arc<LogManager>, log_defaults: LogConfig) -> Self {
        ReplicaManager {
            broker_id,
            logs,
            log_defaults,
            partitions: RwLock::new(HashMap::new()),
            lease_lapsed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            layout: parking_lot::Mutex::new(()),
            moves: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Ticks after every replica move (see `move_replica`).
    pub fn moves(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moves.subscribe()
    }

    /// Moves this broker's replica of `tp` into the data dir `dir` (AlterReplicaLogDirs):
    /// the partition is taken out (its waiters end with `NOT_LEADER_OR_FOLLOWER`), its
    /// log moved, and it is brought back from `image` with the moved log. Blocking.
    pub fn move_replica(&self, tp: &TopicPartition, dir: &str, image: &MetadataImage) -> ReplicaMove {
        let Some(target) = self.logs.data_dir(dir) else {
            return ReplicaMove::UnknownDir;
        };
        let _layout = self.layout.lock();
        if self.get(&tp.topic, tp.partition).is_none() {
            // Kept for when the replica arrives (a reassignment adding this broker).
            self.logs.prefer_dir(tp, target);
            return ReplicaMove::NotHosted;
        }
        if self.logs.dir_of(tp).as_deref() == Some(target.as_path()) {
            return ReplicaMove::AlreadyThere;
        }
        self.remove(tp);
        let moved = self.logs.relocate(tp, &target);
        self.apply_locked(image);
        self.moves.send_modify(|n| *n += 1);
        match moved {
            Ok(()) => ReplicaMove::Moved,
            Err(e) => ReplicaMove::Failed(e.to_string()),
        }
    }

    /// The data dirs and what each holds (DescribeLogDirs).
    pub fn describe_dirs(&self) -> Vec<crate::log::DirUsage> {
        self.logs.describe_dirs()
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.partitions.read().get(topic)?.get(&partition).cloned()
    }

    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .values()
            .flat_map(|p| p.values().cloned())
            .collect()
    }

    fn insert(&self, mut partition: Partition) {
        partition.share_lease(Arc::clone(&self.lease_lapsed));
        let (topic, index) = (partition.tp.topic.clone(), partition.tp.partition);
        let replaced = self
            .partitions
            .write()
            .entry(topic)
            .or_default()
            .insert(index, Arc::new(partition));
        // A topic deleted and created again under the same name: the old one's waiters end.
        if let Some(old) = replaced {
            old.mark_removed();
        }
    }

    fn remove(&self, tp: &TopicPartition) {
        let removed = {
            let mut hosted = self.partitions.write();
            let Some(partitions) = hosted.get_mut(&tp.topic) else {
                return;
            };
            let removed = partitions.remove(&tp.partition);
            if partitions.is_empty() {
                hosted.remove(&tp.topic);
            }
            removed
        };
        if let Some(partition) = removed {
            partition.mark_removed();
        }
    }

    /// The broker's lease with the controller lapsed (it may have been fenced without
    /// hearing so): it leads nothing until the lease runs again; every held produce and
    /// long poll on a partition it led ends at once with `NOT_LEADER_OR_FOLLOWER`.
    pub fn set_lease_lapsed(&self, lapsed: bool) {
        self.lease_lapsed.store(lapsed, std::sync::atomic::Ordering::Release);
        for partition in self.partitions() {
            partition.watchers.wake();
        }
    }

    pub fn lease_lapsed(&self) -> bool {
        self.lease_lapsed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The broker is stopping: every operation waiting on any partition ends now
    /// (`NOT_LEADER_OR_FOLLOWER`), before the logs close under it.
    pub fn shutdown(&self) {
        for partition in self.partitions() {
            partition.mark_removed();
        }
    }

    /// Brings the hosted partitions in line with `image`. Blocking (creates and deletes
    /// files): call it off the async workers.
    pub fn apply_metadata(&self, image: &MetadataImage) {
        let _layout = self.layout.lock();
        self.apply_locked(image);
    }

    fn apply_locked(&self, image: &MetadataImage) {
        let mut wanted = HashSet::new();
        let dynamic = image.dynamic_settings(self.broker_id);
        for topic in image.topics.values() {
            let log_config = self.log_defaults.resolve(&dynamic, &topic.configs);
            for state in topic.partitions.iter().filter(|p| p.replicas.contains(&self.broker_id)) {
                let tp = TopicPartition::new(topic.name.clone(), state.partition);
                wanted.insert(tp.clone());
                let existing = self.get(&topic.name, state.partition);
                match existing {
                    Some(partition) if partition.topic_id == topic.topic_id => {
                        partition.log.update_config(log_config.clone());
                        // Wakes this partition's waiters itself when anything moved.
                        if partition.update(state) {
                            tracing::info!(topic = %topic.name, partition = state.partition, leader = state.leader,
                                leader_epoch = state.leader_epoch, "partition role changed");
                        }
                    }
                    _ => match self.open_log(&tp, topic.topic_id, &log_config) {
                        Ok(log) => {
                            self.insert(Partition::new(tp, topic.topic_id, log, self.broker_id, state));
                        }
                        Err(e) => tracing::error!(topic = %topic.name, partition = state.partition, error = %e,
                            "cannot open the partition's log"),
                    },
                }
            }
        }
        self.remove_all_but(&wanted);
    }

    /// The partition's log, for this topic id: a directory left by an older topic of the
    /// same name (deleted and created again while this broker was away) is deleted first,
    /// so its records never show up in the new topic. The id is kept in the partition
    /// directory's `partition.metadata`, as Kafka does.
    fn open_log(
        &self,
        tp: &TopicPartition,
        topic_id: uuid::Uuid,
        config: &LogConfig,
    ) -> crate::log::Result<Arc<crate::log::PartitionLog>> {
        let mut log = self.logs.get_or_create(tp, Some(config.clone()))?;
        if let Some(stale) = log.topic_id().filter(|id| *id != topic_id) {
            tracing::warn!(topic = %tp.topic, partition = tp.partition, %stale, %topic_id,
                "log belongs to an older topic of the same name; deleting it");
            drop(log);
            self.logs.delete(tp)?;
            log = self.logs.get_or_create(tp, Some(config.clone()))?;
        }
        log.record_topic_id(topic_id)?;
        Ok(log)
    }

    fn remove_all_but(&self, wanted: &HashSet<TopicPartition>) {
        let gone: Vec<TopicPartition> = self
            .partitions()
            .into_iter()
            .map(|p| p.tp.clone())
            .filter(|tp| !wanted.contains(tp))
            .collect();
        for tp in gone {
            self.remove(&tp);
            if let Err(e) = self.logs.delete(&tp) {
                tracing::error!(topic = %tp.topic, partition = tp.partition, error = %e, "cannot delete the log");
            }
        }
    }
}
