//! The controller's replicated state (docs/architecture.md): the metadata image brokers follow,
//! the consumer-group offsets, and the recent metadata records that `WatchMetadata`
//! streams. Deterministic: applying the same [`Command`]s in the same order gives the
//! same state on every controller. No I/O and no openraft types here.

mod command;
mod leader_balance;
mod offsets;
mod partitions;
mod reassignments;
mod snapshot;

use std::collections::{BTreeMap, HashMap, VecDeque};

use brook_protocol::rpc::metadata::{
    BrokerNodeId, BrokerRegistration, MetadataImage, MetadataRecord, PartitionState, TopicState, VersionedRecord,
};
use brook_protocol::rpc::{
    AlterConfigs, AlterPartition, AlterPartitionResult, CommitOffsets, CommittedOffset, ConfigOp, ConfigResource,
    FetchOffsets, IsrChange, OffsetResult, ProducerIdBlock, RegisterBroker, ResourceResult, RpcError, TopicResult,
};
use brook_protocol::{ErrorCode, kafka_uuid};
use uuid::Uuid;

pub use command::{Command, CommandResult, NewTopic, PlacedPartitions};
pub use leader_balance::imbalanced_partitions;
pub use offsets::OffsetStore;
use partitions::assert_publishable;
pub use partitions::{NO_LEADER, invalid_replica_list};

use brook_protocol::topic_config;

/// How many recent metadata records are kept for watchers; one further behind gets the
/// whole image instead.
pub const DEFAULT_HISTORY_RECORDS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct ControllerState {
    image: MetadataImage,
    topic_ids: HashMap<String, Uuid>,
    offsets: OffsetStore,
    /// The first producer id not yet handed out.
    next_producer_id: i64,
    /// Reassignments in progress, by topic id and partition.
    reassignments: BTreeMap<(Uuid, i32), reassignments::Reassignment>,
    history: VecDeque<VersionedRecord>,
    history_limit: usize,
}

/// Producer ids a broker gets at a time (Kafka's block size too).
pub const PRODUCER_ID_BLOCK: i32 = 1000;

impl Default for ControllerState {
    fn default() -> Self {
        ControllerState::new(DEFAULT_HISTORY_RECORDS)
    }
}

/// The topic's `unclean.leader.election.enable`, else the cluster's, else false.
fn election(topic: &TopicState, image: &MetadataImage) -> partitions::Election {
    const KEY: &str = "unclean.leader.election.enable";
    let enabled = topic.configs.get(KEY).or_else(|| image.cluster_configs.get(KEY));
    if enabled.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        partitions::Election::Unclean
    } else {
        partitions::Election::Clean
    }
}

/// Checks one `key = value` of a config resource (`topic_config::validate_*`).
type Validator = fn(&str, &str) -> Result<(), String>;

/// The dynamic configs of a broker that has none set.
static NO_CONFIGS: BTreeMap<String, String> = BTreeMap::new();

fn kafka_error(code: ErrorCode, message: impl Into<String>) -> (i16, Option<String>) {
    (code.code(), Some(message.into()))
}

impl ControllerState {
    pub fn new(history_limit: usize) -> Self {
        ControllerState {
            image: MetadataImage::default(),
            topic_ids: HashMap::new(),
            offsets: OffsetStore::default(),
            next_producer_id: 0,
            reassignments: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
        }
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// The metadata version: the number of metadata records applied so far.
    pub fn version(&self) -> u64 {
        self.image.version
    }

    pub fn history_limit(&self) -> usize {
        self.history_limit
    }

    pub fn offsets(&self) -> &OffsetStore {
        &self.offsets
    }

    pub fn topic(&self, name: &str) -> Option<&TopicState> {
        self.topic_ids.get(name).and_then(|id| self.image.topics.get(id))
    }

    /// The records after `version`, or `None` when they are no longer all kept (the
    /// watcher needs the image).
    pub fn records_since(&self, version: u64) -> Option<Vec<VersionedRecord>> {
        if version >= self.image.version {
            return Some(Vec::new());
        }
        let oldest = self.history.front()?.version;
        if version + 1 < oldest {
            return None;
        }
        let skip = (version + 1 - oldest) as usize;
        Some(self.history.iter().skip(skip).cloned().collect())
    }

    pub fn fetch_offsets(&self, request: &FetchOffsets) -> Vec<CommittedOffset> {
        self.offsets.fetch(&request.group_id, &request.partitions)
    }

    /// Applies one committed command.
    pub fn apply(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::InitCluster { cluster_id } => {
                if self.image.cluster_id.is_none() {
                    self.emit(MetadataRecord::ClusterId(*cluster_id));
                }
                CommandResult::Done
            }
            Command::RegisterBroker(request) => self.register_broker(request),
            Command::FenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.fence_broker(*broker_id, *broker_epoch);
                CommandResult::Done
            }
            Command::UnfenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.unfence_broker(*broker_id, *broker_epoch);
                CommandResult::Done
            }
            Command::CreateTopics(topics) => {
                CommandResult::Topics(topics.iter().map(|t| self.create_topic(t)).collect())
            }
            Command::DeleteTopics(names) => CommandResult::Topics(names.iter().map(|n| self.delete_topic(n)).collect()),
            Command::CreatePartitions(additions) => {
                CommandResult::Topics(additions.iter().map(|a| self.add_partitions(a)).collect())
            }
            Command::AlterConfigs(request) => CommandResult::Configs(self.alter_configs(request)),
            Command::AlterPartition(request) => CommandResult::Partitions(self.alter_partition(request)),
            Command::CommitOffsets(groups) => {
                CommandResult::Offsets(groups.iter().map(|g| self.commit_offsets(g)).collect())
            }
            Command::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => self.allocate_producer_ids(*broker_id, *broker_epoch),
            Command::Reassign(requests) => CommandResult::PartitionResults(self.reassign(requests)),
            Command::ElectLeaders(request) => CommandResult::PartitionResults(self.elect_leaders(request)),
            Command::DeleteOffsets(groups) => CommandResult::Offsets(
                groups
                    .iter()
                    .map(|g| {
                        self.offsets.delete(&g.group_id, &g.partitions);
                        g.partitions
                            .iter()
                            .map(|(topic, partition)| OffsetResult {
                                topic: topic.clone(),
                                partition: *partition,
                                error_code: 0,
                            })
                            .collect()
                    })
                    .collect(),
            ),
        }
    }

    /// Appends one record: a new version, applied to the image and kept for watchers.
    fn emit(&mut self, record: MetadataRecord) -> u64 {
        let versioned = VersionedRecord {
            version: self.image.version + 1,
            record,
        };
        match &versioned.record {
            MetadataRecord::CreateTopic(topic) => {
                topic.partitions.iter().for_each(|p| assert_publishable(None, p));
                self.topic_ids.insert(topic.name.clone(), topic.topic_id);
            }
            MetadataRecord::AddPartitions { partitions, .. } => {
                partitions.iter().for_each(|p| assert_publishable(None, p));
            }
            MetadataRecord::ChangePartition { topic_id, state } => {
                let previous = self
                    .image
                    .topics
                    .get(topic_id)
                    .and_then(|t| t.partitions.iter().find(|p| p.partition == state.partition));
                assert_publishable(previous, state);
            }
            MetadataRecord::DeleteTopic { topic_id } => {
                if let Some(topic) = self.image.topics.get(topic_id) {
                    self.topic_ids.remove(&topic.name);
                }
            }
            _ => {}
        }
        self.image.apply(&versioned);
        if self.history.len() == self.history_limit {
            self.history.pop_front();
        }
        let version = versioned.version;
        self.history.push_back(versioned);
        version
    }

    fn allocate_producer_ids(&mut self, broker_id: BrokerNodeId, broker_epoch: i64) -> CommandResult {
        let registered = self.image.brokers.get(&broker_id).map(|b| b.broker_epoch);
        if registered != Some(broker_epoch) {
            return CommandResult::Refused(RpcError::Kafka {
                code: ErrorCode::StaleBrokerEpoch.code(),
                message: format!("broker {broker_id} epoch {broker_epoch} is not its registered one ({registered:?})"),
            });
        }
        let first_id = self.next_producer_id;
        self.next_producer_id += i64::from(PRODUCER_ID_BLOCK);
        CommandResult::ProducerIds(ProducerIdBlock {
            first_id,
            count: PRODUCER_ID_BLOCK,
        })
    }

    fn is_unfenced(&self, broker: BrokerNodeId) -> bool {
        self.image.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }

    fn register_broker(&mut self, request: &RegisterBroker) -> CommandResult {
        if let Some(cluster_id) = request.cluster_id
            && self.image.cluster_id != Some(cluster_id)
        {
            return CommandResult::Refused(RpcError::Kafka {
                code: ErrorCode::InconsistentClusterId.code(),
                message: format!(
                    "broker belongs to cluster {}, this quorum is {}",
                    kafka_uuid::to_kafka_string(&cluster_id),
                    self.image
                        .cluster_id
                        .map_or("not initialised".into(), |id| kafka_uuid::to_kafka_string(&id))
                ),
            });
        }
        if let Some(existing) = self.image.brokers.get(&request.broker_id) {
            if existing.incarnation_id == request.incarnation_id {
                // A retried registration: same process, same answer.
                return CommandResult::BrokerRegistered {
                    broker_epoch: existing.broker_epoch,
                };
            }
            // A new process for this id: the old one can no longer lead anything.
            let (broker_id, broker_epoch) = (existing.broker_id, existing.broker_epoch);
            self.fence_broker(broker_id, broker_epoch);
        }
        let broker_epoch = (self.image.version + 1) as i64;
        self.emit(MetadataRecord::RegisterBroker(BrokerRegistration {
            broker_id: request.broker_id,
            incarnation_id: request.incarnation_id,
            broker_epoch,
            endpoints: request.endpoints.clone(),
            rack: request.rack.clone(),
            // Unfenced by a heartbeat once the broker has caught up with the metadata.
            fenced: true,
            log_dirs: request.log_dirs.clone(),
        }));
        CommandResult::BrokerRegistered { broker_epoch }
    }

    fn fence_broker(&mut self, broker_id: BrokerNodeId, broker_epoch: i64) {
        let Some(broker) = self.image.brokers.get(&broker_id) else {
            return;
        };
        if broker.broker_epoch != broker_epoch || broker.fenced {
            return;
        }
        self.emit(MetadataRecord::FenceBroker {
            broker_id,
            broker_epoch,
        });
        let changes = self.partition_changes(|state, topic, image| {
            let eligible = |b| image.brokers.get(&b).is_some_and(|r: &BrokerRegistration| !r.fenced);
            partitions::without_broker(state, broker_id, eligible, election(topic, image))
        });
        for (topic_id, state) in changes {
            self.emit(MetadataRecord::ChangePartition { topic_id, state });
        }
    }

    fn unfence_broker(&mut self, broker_id: BrokerNodeId, broker_epoch: i64) {
        let Some(broker) = self.image.brokers.get(&broker_id) else {
            return;
        };
        if broker.broker_epoch != broker_epoch || !broker.fenced {
            return;
        }
        self.emit(MetadataRecord::UnfenceBroker {
            broker_id,
            broker_epoch,
        });
        let changes = self.partition_changes(|state, topic, image| {
            partitions::with_broker_back(state, broker_id, election(topic, image))
        });
        for (topic_id, state) in changes {
            self.emit(MetadataRecord::ChangePartition { topic_id, state });
        }
    }

    /// The new states `change` computes for each partition, in topic-id order.
    fn partition_changes(
        &self,
        change: impl Fn(&PartitionState, &TopicState, &MetadataImage) -> Option<PartitionState>,
    ) -> Vec<(Uuid, PartitionState)> {
        self.image
            .topics
            .values()
            .flat_map(|topic| topic.partitions.iter().map(move |p| (topic, p)))
            .filter_map(|(topic, state)| change(state, topic, &self.image).map(|next| (topic.topic_id, next)))
            .collect()
    }

    fn create_topic(&mut self, topic: &NewTopic) -> TopicResult {
        let result = |code: i16, message: Option<String>| TopicResult {
            name: topic.name.clone(),
            topic_id: (code == 0).then_some(topic.topic_id),
            error_code: code,
            error_message: message,
        };
        if self.topic_ids.contains_key(&topic.name) {
            let (code, message) = kafka_error(
                ErrorCode::TopicAlreadyExists,
                format!("topic '{}' already exists", topic.name),
            );
            return result(code, message);
        }
        let partitions = topic
            .assignments
            .iter()
            .enumerate()
            .map(|(i, replicas)| partitions::new_partition(i as i32, replicas, |b| self.is_unfenced(b)))
            .collect();
        self.emit(MetadataRecord::CreateTopic(TopicState {
            topic_id: topic.topic_id,
            name: topic.name.clone(),
            configs: topic.configs.clone(),
            partitions,
        }));
        result(0, None)
    }

    fn delete_topic(&mut self, name: &str) -> TopicResult {
        let Some(topic_id) = self.topic_ids.get(name).copied() else {
            let (error_code, error_message) = unknown_topic(name);
            return TopicResult {
                name: name.to_owned(),
                topic_id: None,
                error_code,
                error_message,
            };
        };
        self.emit(MetadataRecord::DeleteTopic { topic_id });
        self.offsets.delete_topic(name);
        self.forget_reassignments(topic_id);
        TopicResult {
            name: name.to_owned(),
            topic_id: Some(topic_id),
            error_code: 0,
            error_message: None,
        }
    }

    fn add_partitions(&mut self, addition: &PlacedPartitions) -> TopicResult {
        let mut result = TopicResult {
            name: addition.name.clone(),
            topic_id: None,
            error_code: 0,
            error_message: None,
        };
        let Some(topic) = self.topic(&addition.name) else {
            (result.error_code, result.error_message) = unknown_topic(&addition.name);
            return result;
        };
        let (topic_id, current) = (topic.topic_id, topic.partitions.len() as i32);
        result.topic_id = Some(topic_id);
        if current != addition.expected_count {
            (result.error_code, result.error_message) = kafka_error(
                ErrorCode::InvalidPartitions,
                format!(
                    "topic '{}' changed to {current} partitions while the request was placed; retry",
                    addition.name
                ),
            );
            return result;
        }
        let partitions = addition
            .assignments
            .iter()
            .enumerate()
            .map(|(i, replicas)| partitions::new_partition(current + i as i32, replicas, |b| self.is_unfenced(b)))
            .collect();
        self.emit(MetadataRecord::AddPartitions { topic_id, partitions });
        result
    }

    /// What `AlterConfigs` would answer, without changing anything (`validate_only`).
    pub fn validate_alter_configs(&self, request: &AlterConfigs) -> Vec<ResourceResult> {
        self.config_changes(request)
            .into_iter()
            .map(|(result, _)| result)
            .collect()
    }

    fn alter_configs(&mut self, request: &AlterConfigs) -> Vec<ResourceResult> {
        let changes = self.config_changes(request);
        let mut results = Vec::with_capacity(changes.len());
        for (result, records) in changes {
            for record in records {
                self.emit(record);
            }
            results.push(result);
        }
        results
    }

    /// Each resource's answer and, when valid, the records that make its change.
    fn config_changes(&self, request: &AlterConfigs) -> Vec<(ResourceResult, Vec<MetadataRecord>)> {
        request
            .changes
            .iter()
            .map(|(resource, changes)| {
                let (records, (error_code, error_message)) =
                    match self.config_records(resource, changes, request.replace) {
                        Ok(records) => (records, (0, None)),
                        Err(error) => (Vec::new(), error),
                    };
                let result = ResourceResult {
                    resource: resource.clone(),
                    error_code,
                    error_message,
                };
                (result, records)
            })
            .collect()
    }

    fn config_records(
        &self,
        resource: &ConfigResource,
        changes: &[(String, ConfigOp)],
        replace: bool,
    ) -> Result<Vec<MetadataRecord>, (i16, Option<String>)> {
        let (validate, current, topic_id): (Validator, _, _) = match resource {
            ConfigResource::Topic(name) => {
                let topic = self.topic(name).ok_or_else(|| unknown_topic(name))?;
                (topic_config::validate_topic, &topic.configs, Some(topic.topic_id))
            }
            ConfigResource::Cluster => (topic_config::validate_cluster, &self.image.cluster_configs, None),
            ConfigResource::Broker(id) => (
                topic_config::validate_broker,
                self.image.broker_configs.get(id).unwrap_or(&NO_CONFIGS),
                None,
            ),
        };
        // Kafka refuses a broker's own bad setting as an invalid request, not a bad config.
        let refusal = match resource {
            ConfigResource::Broker(_) => ErrorCode::InvalidRequest,
            _ => ErrorCode::InvalidConfig,
        };
        let mut target: BTreeMap<String, Option<String>> = BTreeMap::new();
        if replace {
            target.extend(current.keys().map(|k| (k.clone(), None)));
        }
        for (key, op) in changes {
            match op {
                ConfigOp::Set(value) => {
                    validate(key, value).map_err(|message| kafka_error(refusal, message))?;
                    target.insert(key.clone(), Some(value.clone()));
                }
                ConfigOp::Delete => {
                    target.insert(key.clone(), None);
                }
            }
        }
        Ok(target
            .into_iter()
            .filter(|(key, value)| current.get(key) != value.as_ref())
            .map(|(key, value)| match (resource, topic_id) {
                (ConfigResource::Broker(broker_id), _) => MetadataRecord::SetBrokerConfig {
                    broker_id: *broker_id,
                    key,
                    value,
                },
                (_, Some(topic_id)) => MetadataRecord::SetTopicConfig { topic_id, key, value },
                (_, None) => MetadataRecord::SetClusterConfig { key, value },
            })
            .collect())
    }

    fn alter_partition(&mut self, request: &AlterPartition) -> Vec<AlterPartitionResult> {
        request
            .changes
            .iter()
            .map(|change| {
                let (error_code, state) = match self.check_isr_change(request, change) {
                    Ok(next) => {
                        if let Some(next) = &next.1 {
                            self.emit(MetadataRecord::ChangePartition {
                                topic_id: change.topic_id,
                                state: next.clone(),
                            });
                            self.complete_reassignment(change.topic_id, change.partition);
                        }
                        (0, Some(next.1.unwrap_or(next.0)))
                    }
                    Err((code, current)) => (code.code(), current),
                };
                AlterPartitionResult {
                    topic_id: change.topic_id,
                    partition: change.partition,
                    error_code,
                    state,
                }
            })
            .collect()
    }

    /// The partition's current state and its next one (`None` when the ISR is unchanged),
    /// or the Kafka error and the current state.
    #[allow(clippy::type_complexity)]
    fn check_isr_change(
        &self,
        request: &AlterPartition,
        change: &IsrChange,
    ) -> Result<(PartitionState, Option<PartitionState>), (ErrorCode, Option<PartitionState>)> {
        let registered_epoch = self.image.brokers.get(&request.broker_id).map(|b| b.broker_epoch);
        if registered_epoch != Some(request.broker_epoch) {
            return Err((ErrorCode::StaleBrokerEpoch, None));
        }
        let current = self
            .image
            .topics
            .get(&change.topic_id)
            .and_then(|t| t.partitions.iter().find(|p| p.partition == change.partition))
            .ok_or((ErrorCode::UnknownTopicOrPartition, None))?;
        let refuse = |code| Err((code, Some(current.clone())));
        if current.leader != request.broker_id {
            return refuse(ErrorCode::NotLeaderOrFollower);
        }
        if change.leader_epoch != current.leader_epoch {
            return refuse(ErrorCode::FencedLeaderEpoch);
        }
        if change.partition_epoch != current.partition_epoch {
            return refuse(ErrorCode::InvalidUpdateVersion);
        }
        let mut seen = Vec::with_capacity(change.new_isr.len());
        for broker in &change.new_isr {
            if seen.contains(broker) || !current.replicas.contains(broker) {
                return refuse(ErrorCode::InvalidRequest);
            }
            seen.push(*broker);
        }
        if !change.new_isr.contains(&current.leader) {
            return refuse(ErrorCode::InvalidRequest);
        }
        let newly_added = change.new_isr.iter().filter(|b| !current.isr.contains(b));
        if newly_added.clone().any(|b| !self.is_unfenced(*b)) {
            return refuse(ErrorCode::IneligibleReplica);
        }
        if change.new_isr == current.isr {
            return Ok((current.clone(), None));
        }
        let mut next = current.clone();
        next.isr = change.new_isr.clone();
        next.partition_epoch += 1;
        Ok((current.clone(), Some(next)))
    }

    fn commit_offsets(&mut self, group: &CommitOffsets) -> Vec<OffsetResult> {
        group
            .offsets
            .iter()
            .map(|commit| {
                let known = self
                    .topic(&commit.topic)
                    .is_some_and(|t| commit.partition >= 0 && (commit.partition as usize) < t.partitions.len());
                let error_code = if known {
                    self.offsets.commit(&group.group_id, commit);
                    0
                } else {
                    ErrorCode::UnknownTopicOrPartition.code()
                };
                OffsetResult {
                    topic: commit.topic.clone(),
                    partition: commit.partition,
                    error_code,
                }
            })
            .collect()
    }
}

fn unknown_topic(name: &str) -> (i16, Option<String>) {
    kafka_error(
        ErrorCode::UnknownTopicOrPartition,
        format!("topic '{name}' does not exist"),
    )
}

#[cfg(test)]
mod tests;
