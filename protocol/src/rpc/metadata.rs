//! The cluster metadata the controller quorum holds (docs/architecture.md), as brokers see it.
//!
//! Every change is a [`MetadataRecord`] with a version (its Raft log index). A broker
//! follows them with `WatchMetadata` and applies them to a [`MetadataImage`]; one that is
//! too far behind gets the whole image instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A broker's `node.id`, as Kafka numbers brokers (the same number the wire carries in
/// `kafka_protocol`'s `BrokerId` newtype, which the Kafka-facing code uses).
pub type BrokerNodeId = i32;
/// A controller voter's id in the Raft quorum.
pub type NodeId = u64;

/// A listener a node is reached on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub broker_id: BrokerNodeId,
    /// Changes on every process start, so a restarted broker is told apart from its past.
    pub incarnation_id: Uuid,
    /// Assigned by the controller at registration; heartbeats must carry it.
    pub broker_epoch: i64,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
    /// The log directory ids the registering process showed (see `RegisterBroker`).
    pub log_dirs: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    pub partition: i32,
    pub replicas: Vec<BrokerNodeId>,
    pub isr: Vec<BrokerNodeId>,
    /// -1 when no replica can lead.
    pub leader: BrokerNodeId,
    pub leader_epoch: i32,
    /// Bumped on every change of this partition (ISR or leader), for AlterPartition checks.
    pub partition_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    pub topic_id: Uuid,
    pub name: String,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<PartitionState>,
}

/// One change to the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    ClusterId(Uuid),
    RegisterBroker(BrokerRegistration),
    FenceBroker {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    UnfenceBroker {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    UnregisterBroker {
        broker_id: BrokerNodeId,
    },
    /// A topic is created with all its partitions in one record.
    CreateTopic(TopicState),
    DeleteTopic {
        topic_id: Uuid,
    },
    /// New partitions for an existing topic.
    AddPartitions {
        topic_id: Uuid,
        partitions: Vec<PartitionState>,
    },
    /// A partition's leader, ISR or replicas changed; carries the whole new state.
    ChangePartition {
        topic_id: Uuid,
        state: PartitionState,
    },
    /// `None` removes the key (back to the default).
    SetTopicConfig {
        topic_id: Uuid,
        key: String,
        value: Option<String>,
    },
    SetClusterConfig {
        key: String,
        value: Option<String>,
    },
    /// One broker's own dynamic setting (AlterConfigs on the broker resource named by its
    /// id); it wins over the cluster-wide one on that broker.
    SetBrokerConfig {
        broker_id: BrokerNodeId,
        key: String,
        value: Option<String>,
    },
}

/// A record and the metadata version it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedRecord {
    pub version: u64,
    pub record: MetadataRecord,
}

/// The whole metadata at one version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    pub version: u64,
    pub cluster_id: Option<Uuid>,
    pub brokers: BTreeMap<BrokerNodeId, BrokerRegistration>,
    pub topics: BTreeMap<Uuid, TopicState>,
    pub cluster_configs: BTreeMap<String, String>,
    /// Per-broker dynamic settings; a broker without any has no entry.
    pub broker_configs: BTreeMap<BrokerNodeId, BTreeMap<String, String>>,
}

impl MetadataImage {
    /// Applies one record. Records arrive in version order; an older or repeated version
    /// is ignored, so replaying a stream after a reconnect is harmless.
    pub fn apply(&mut self, versioned: &VersionedRecord) {
        if versioned.version <= self.version {
            return;
        }
        self.version = versioned.version;
        match &versioned.record {
            MetadataRecord::ClusterId(id) => self.cluster_id = Some(*id),
            MetadataRecord::RegisterBroker(registration) => {
                self.brokers.insert(registration.broker_id, registration.clone());
            }
            MetadataRecord::FenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.set_fenced(*broker_id, *broker_epoch, true);
            }
            MetadataRecord::UnfenceBroker {
                broker_id,
                broker_epoch,
            } => {
                self.set_fenced(*broker_id, *broker_epoch, false);
            }
            MetadataRecord::UnregisterBroker { broker_id } => {
                self.brokers.remove(broker_id);
            }
            MetadataRecord::CreateTopic(topic) => {
                self.topics.insert(topic.topic_id, topic.clone());
            }
            MetadataRecord::DeleteTopic { topic_id } => {
                self.topics.remove(topic_id);
            }
            MetadataRecord::AddPartitions { topic_id, partitions } => {
                if let Some(topic) = self.topics.get_mut(topic_id) {
                    topic.partitions.extend(partitions.iter().cloned());
                }
            }
            MetadataRecord::ChangePartition { topic_id, state } => {
                let slot = self
                    .topics
                    .get_mut(topic_id)
                    .and_then(|t| t.partitions.iter_mut().find(|p| p.partition == state.partition));
                if let Some(slot) = slot {
                    *slot = state.clone();
                }
            }
            MetadataRecord::SetTopicConfig { topic_id, key, value } => {
                if let Some(topic) = self.topics.get_mut(topic_id) {
                    set_or_remove(&mut topic.configs, key, value);
                }
            }
            MetadataRecord::SetClusterConfig { key, value } => set_or_remove(&mut self.cluster_configs, key, value),
            MetadataRecord::SetBrokerConfig { broker_id, key, value } => {
                let configs = self.broker_configs.entry(*broker_id).or_default();
                set_or_remove(configs, key, value);
                if configs.is_empty() {
                    self.broker_configs.remove(broker_id);
                }
            }
        }
    }

    /// A fence or unfence applies only to the registration it names: a record about a
    /// previous incarnation of the broker must not touch the current one.
    fn set_fenced(&mut self, broker_id: BrokerNodeId, broker_epoch: i64, fenced: bool) {
        if let Some(broker) = self.brokers.get_mut(&broker_id)
            && broker.broker_epoch == broker_epoch
        {
            broker.fenced = fenced;
        }
    }

    /// A dynamic broker setting as `broker` applies it: its own value, else the
    /// cluster-wide one.
    pub fn dynamic_setting(&self, broker: BrokerNodeId, key: &str) -> Option<&String> {
        self.broker_configs
            .get(&broker)
            .and_then(|own| own.get(key))
            .or_else(|| self.cluster_configs.get(key))
    }

    /// Every dynamic broker setting as `broker` applies it (its own over the cluster's).
    pub fn dynamic_settings(&self, broker: BrokerNodeId) -> BTreeMap<String, String> {
        let mut settings = self.cluster_configs.clone();
        if let Some(own) = self.broker_configs.get(&broker) {
            settings.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        settings
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&TopicState> {
        self.topics.values().find(|t| t.name == name)
    }
}

fn set_or_remove(map: &mut BTreeMap<String, String>, key: &str, value: &Option<String>) {
    match value {
        Some(value) => {
            map.insert(key.to_owned(), value.clone());
        }
        None => {
            map.remove(key);
        }
    }
}
