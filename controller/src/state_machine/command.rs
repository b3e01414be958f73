//! What the Raft log holds: one [`Command`] per entry, and what applying it answers.
//!
//! Commands carry every non-deterministic input (topic ids, replica placement, commit
//! timestamps), decided by the leader before proposing, so that applying the same
//! entries gives every controller the same state. Preconditions (a name already taken,
//! a stale partition epoch) are checked when the entry is applied, which makes two
//! concurrent requests for the same thing resolve in log order: exactly one wins.

use std::collections::BTreeMap;

use brook_protocol::rpc::metadata::BrokerNodeId;
use brook_protocol::rpc::{
    AlterConfigs, AlterPartition, AlterPartitionResult, CommitOffsets, ElectLeaders, FetchOffsets, OffsetResult,
    PartitionResult, ProducerIdBlock, ReassignPartition, RegisterBroker, ResourceResult, RpcError, TopicResult,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Set once, by the first leader of a fresh quorum; ignored when a cluster id exists.
    InitCluster {
        cluster_id: Uuid,
    },
    RegisterBroker(RegisterBroker),
    /// The broker's lease ran out, or it asked to shut down.
    FenceBroker {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    /// The broker heart-beat and has caught up with the metadata.
    UnfenceBroker {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    CreateTopics(Vec<NewTopic>),
    DeleteTopics(Vec<String>),
    CreatePartitions(Vec<PlacedPartitions>),
    AlterConfigs(AlterConfigs),
    AlterPartition(AlterPartition),
    CommitOffsets(Vec<CommitOffsets>),
    DeleteOffsets(Vec<FetchOffsets>),
    /// The next block of producer ids, for a broker with this epoch.
    AllocateProducerIds {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    /// Start or cancel reassignments; checked against the state when applied.
    Reassign(Vec<ReassignPartition>),
    ElectLeaders(ElectLeaders),
}

/// A topic with its id and replica placement decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    pub topic_id: Uuid,
    /// One replica list per partition; the first live replica leads.
    pub assignments: Vec<Vec<BrokerNodeId>>,
    pub configs: BTreeMap<String, String>,
}

/// New partitions for an existing topic, placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacedPartitions {
    pub name: String,
    /// The partition count the placement was computed for; refused if it changed since.
    pub expected_count: i32,
    pub assignments: Vec<Vec<BrokerNodeId>>,
}

/// What applying a command answers to the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    Done,
    BrokerRegistered { broker_epoch: i64 },
    Topics(Vec<TopicResult>),
    Configs(Vec<ResourceResult>),
    Partitions(Vec<AlterPartitionResult>),
    Offsets(Vec<Vec<OffsetResult>>),
    Refused(RpcError),
    ProducerIds(ProducerIdBlock),
    PartitionResults(Vec<PartitionResult>),
}
