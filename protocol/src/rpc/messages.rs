//! The internal RPC requests and responses.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::metadata::{BrokerNodeId, Endpoint, MetadataImage, NodeId, PartitionState, VersionedRecord};

/// A request on an internal connection; responses echo the correlation id. One
/// `WatchMetadata` request is answered by a stream of responses with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcRequest {
    pub rpc_version: u16,
    pub correlation_id: u64,
    pub body: ControllerRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcResponse {
    pub correlation_id: u64,
    pub body: Result<ControllerResponse, RpcError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ControllerRequest {
    RegisterBroker(RegisterBroker),
    BrokerHeartbeat(BrokerHeartbeat),
    /// Asks for every metadata record after `since_version`, then for new ones as they
    /// commit. `since_version` 0 (or one too old) gets a snapshot first.
    WatchMetadata {
        broker_id: BrokerNodeId,
        since_version: u64,
    },
    CreateTopics(CreateTopics),
    DeleteTopics {
        names: Vec<String>,
    },
    CreatePartitions(CreatePartitions),
    AlterConfigs(AlterConfigs),
    AlterPartition(AlterPartition),
    /// Commits for several groups in one request (a coordinator batches its groups).
    CommitOffsets(Vec<CommitOffsets>),
    FetchOffsets(Vec<FetchOffsets>),
    /// Removes committed offsets (OffsetDelete, DeleteGroups).
    DeleteOffsets(Vec<FetchOffsets>),
    /// The ids of the groups that have committed offsets (ListGroups).
    ListOffsetGroups,
    DescribeQuorum,
    /// Controller-to-controller Raft traffic, serialized by the controller crate.
    Raft(RaftMessage),
    /// A block of producer ids for the broker to hand out (InitProducerId); refused
    /// with `STALE_BROKER_EPOCH` unless the epoch is the broker's current one.
    AllocateProducerIds {
        broker_id: BrokerNodeId,
        broker_epoch: i64,
    },
    /// Starts or cancels partition reassignments (AlterPartitionReassignments).
    AlterReassignments(Vec<ReassignPartition>),
    /// The reassignments in progress: all of them, or those of the partitions named.
    ListReassignments(Option<Vec<(String, i32)>>),
    ElectLeaders(ElectLeaders),
}

/// The answers to an admin change, and the metadata version the controller had applied
/// when it answered (which carries the change): the broker waits for its cache to reach
/// it, so the client's next request there sees what it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied<T> {
    pub results: T,
    pub metadata_version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ControllerResponse {
    RegisterBroker {
        broker_epoch: i64,
        /// `broker.session.timeout.ms`: a broker whose heartbeats go unacknowledged this
        /// long knows the controller has fenced it.
        session_timeout_ms: u64,
    },
    BrokerHeartbeat {
        fenced: bool,
        should_shut_down: bool,
        /// The metadata version the controller had applied when it answered.
        metadata_version: u64,
    },
    Metadata(MetadataUpdate),
    CreateTopics(Applied<Vec<TopicResult>>),
    DeleteTopics(Applied<Vec<TopicResult>>),
    CreatePartitions(Applied<Vec<TopicResult>>),
    AlterConfigs(Applied<Vec<ResourceResult>>),
    AlterPartition(Vec<AlterPartitionResult>),
    /// One entry per group of the request, in order.
    CommitOffsets(Vec<Vec<OffsetResult>>),
    FetchOffsets(Vec<Vec<CommittedOffset>>),
    DeleteOffsets(Vec<Vec<OffsetResult>>),
    OffsetGroups(Vec<String>),
    DescribeQuorum(QuorumInfo),
    Raft(RaftMessage),
    ProducerIds(ProducerIdBlock),
    AlterReassignments(Vec<PartitionResult>),
    ListReassignments(Vec<OngoingReassignment>),
    ElectLeaders(Applied<Vec<PartitionResult>>),
}

/// Move a partition to `target` replicas (the first is the preferred leader); `None`
/// cancels a reassignment in progress, back to the replicas it started from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassignPartition {
    pub topic: String,
    pub partition: i32,
    pub target: Option<Vec<BrokerNodeId>>,
}

/// One partition's outcome; `error_code` 0 is success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i16,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    /// Everything the partition is on meanwhile: the target, then the replicas leaving.
    pub replicas: Vec<BrokerNodeId>,
    pub adding: Vec<BrokerNodeId>,
    pub removing: Vec<BrokerNodeId>,
}

/// Kafka's election types (ElectLeaders v1+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionType {
    /// The first replica, if it is in sync and live.
    Preferred,
    /// For a partition without a leader: an in-sync replica if one is live, else any
    /// live replica (losing what it never copied).
    Unclean,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectLeaders {
    pub election_type: ElectionType,
    /// `None`: every partition; those that need no election are left out of the answer.
    pub partitions: Option<Vec<(String, i32)>>,
}

/// Producer ids `first_id..first_id + count`, never handed out before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerIdBlock {
    pub first_id: i64,
    pub count: i32,
}

/// Failures any request can meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RpcError {
    /// This controller is not the leader; retry at `leader` (unknown during an election).
    #[error("not the controller; leader is {leader:?}")]
    NotController { leader: Option<ControllerAddress> },
    #[error("peer speaks internal RPC version {peer}, this node {ours}")]
    IncompatibleVersion { peer: u16, ours: u16 },
    /// The request was understood and refused, with the Kafka error code to report.
    #[error("kafka error {code}: {message}")]
    Kafka { code: i16, message: String },
    #[error("controller error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerAddress {
    pub node_id: NodeId,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBroker {
    pub broker_id: BrokerNodeId,
    pub incarnation_id: Uuid,
    pub cluster_id: Option<Uuid>,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    /// The ids of the log directories this process holds locked (sorted). A process
    /// that shows the same ids as a registration still within its session succeeds it
    /// at once: only one process at a time can hold those directories, so the
    /// registered one has died. Empty: no such proof, wait for the session to expire.
    pub log_dirs: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerHeartbeat {
    pub broker_id: BrokerNodeId,
    pub broker_epoch: i64,
    /// The metadata version the broker has applied.
    pub metadata_version: u64,
    /// The broker asks to be fenced (controlled shutdown moves its leaderships away).
    pub want_shut_down: bool,
}

/// What a `WatchMetadata` stream delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataUpdate {
    Snapshot(MetadataImage),
    Records(Vec<VersionedRecord>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatableTopic {
    pub name: String,
    /// -1: the cluster default (`num.partitions`).
    pub num_partitions: i32,
    /// -1: the cluster default (`default.replication.factor`).
    pub replication_factor: i16,
    /// Explicit replica lists per partition, instead of counts.
    pub assignments: Vec<Vec<BrokerNodeId>>,
    pub configs: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopics {
    pub topics: Vec<CreatableTopic>,
    pub validate_only: bool,
}

/// Per-topic outcome; `error_code` 0 is success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicResult {
    pub name: String,
    pub topic_id: Option<Uuid>,
    pub error_code: i16,
    pub error_message: Option<String>,
}

/// Grow a topic to `total_count` partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPartitions {
    pub name: String,
    pub total_count: i32,
    /// Replica lists for the new partitions only; empty: the controller places them.
    pub assignments: Vec<Vec<BrokerNodeId>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePartitions {
    pub topics: Vec<NewPartitions>,
    pub validate_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigResource {
    Topic(String),
    Broker(BrokerNodeId),
    Cluster,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigOp {
    Set(String),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterConfigs {
    pub changes: Vec<(ConfigResource, Vec<(String, ConfigOp)>)>,
    /// AlterConfigs (not incremental) replaces the whole set: keys not named are removed.
    pub replace: bool,
    pub validate_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceResult {
    pub resource: ConfigResource,
    pub error_code: i16,
    pub error_message: Option<String>,
}

/// A leader asks to change the ISR of partitions it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterPartition {
    pub broker_id: BrokerNodeId,
    pub broker_epoch: i64,
    pub changes: Vec<IsrChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsrChange {
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    /// The partition epoch the leader last saw; a stale one is refused.
    pub partition_epoch: i32,
    pub new_isr: Vec<BrokerNodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterPartitionResult {
    pub topic_id: Uuid,
    pub partition: i32,
    pub error_code: i16,
    /// The state after the change (or the current one, on error).
    pub state: Option<PartitionState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
    pub commit_timestamp_ms: i64,
}

/// Commits for one group, applied together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOffsets {
    pub group_id: String,
    pub offsets: Vec<OffsetCommit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: i16,
}

/// `partitions` empty: every committed offset of the group (for `DeleteOffsets`: the
/// whole group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchOffsets {
    pub group_id: String,
    pub partitions: Vec<(String, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumInfo {
    pub leader: Option<NodeId>,
    pub term: u64,
    pub commit_index: u64,
    pub voters: Vec<VoterInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterInfo {
    pub node_id: NodeId,
    pub address: ControllerAddress,
    pub matched_index: Option<u64>,
    /// Wall-clock ms of the voter's last answer to the leader, and of the last time it
    /// had everything the leader had (the leader itself: now); `None` if never.
    pub last_fetch_ms: Option<i64>,
    pub last_caught_up_ms: Option<i64>,
}

/// One Raft RPC, its payload encoded by the controller crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage {
    AppendEntries(#[serde(with = "serde_bytes")] Vec<u8>),
    Vote(#[serde(with = "serde_bytes")] Vec<u8>),
    InstallSnapshot(#[serde(with = "serde_bytes")] Vec<u8>),
}
