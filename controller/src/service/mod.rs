//! The controller service: what brokers and other controllers ask of this node over the
//! internal RPC, one module per family of requests.

mod brokers;
mod leader_balance;
mod offsets;
pub mod server;
mod topics;
mod watch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::network::peer_times::{PeerTimes, now_millis};
use brook_protocol::rpc::{ControllerRequest, ControllerResponse, QuorumInfo, RpcError, RpcResponse, VoterInfo};
use tokio::sync::mpsc;

use crate::config::ControllerConfig;
use crate::metrics::{ControllerMetrics, RpcKind};
use crate::raft::RaftHandle;
use crate::store::SharedState;

pub use brokers::Leases;
pub use offsets::CommitBatcher;

pub struct ControllerService {
    raft: RaftHandle,
    shared: Arc<SharedState>,
    config: Arc<ControllerConfig>,
    leases: Leases,
    commits: CommitBatcher,
    metrics: Arc<ControllerMetrics>,
}

fn kind_of(request: &ControllerRequest) -> RpcKind {
    match request {
        ControllerRequest::RegisterBroker(_) => RpcKind::RegisterBroker,
        ControllerRequest::BrokerHeartbeat(_) => RpcKind::BrokerHeartbeat,
        ControllerRequest::WatchMetadata { .. } => RpcKind::WatchMetadata,
        ControllerRequest::CreateTopics(_) => RpcKind::CreateTopics,
        ControllerRequest::DeleteTopics { .. } => RpcKind::DeleteTopics,
        ControllerRequest::CreatePartitions(_) => RpcKind::CreatePartitions,
        ControllerRequest::AlterConfigs(_) => RpcKind::AlterConfigs,
        ControllerRequest::AlterPartition(_) => RpcKind::AlterPartition,
        ControllerRequest::CommitOffsets(_) => RpcKind::CommitOffsets,
        ControllerRequest::FetchOffsets(_) => RpcKind::FetchOffsets,
        ControllerRequest::DeleteOffsets(_) => RpcKind::DeleteOffsets,
        ControllerRequest::ListOffsetGroups => RpcKind::ListOffsetGroups,
        ControllerRequest::DescribeQuorum => RpcKind::DescribeQuorum,
        ControllerRequest::Raft(_) => RpcKind::Raft,
        ControllerRequest::AllocateProducerIds { .. } => RpcKind::AllocateProducerIds,
        ControllerRequest::AlterReassignments(_) => RpcKind::AlterReassignments,
        ControllerRequest::ListReassignments(_) => RpcKind::ListReassignments,
        ControllerRequest::ElectLeaders(_) => RpcKind::ElectLeaders,
    }
}

impl ControllerService {
    pub fn new(
        raft: RaftHandle,
        shared: Arc<SharedState>,
        config: Arc<ControllerConfig>,
        metrics: Arc<ControllerMetrics>,
    ) -> Self {
        ControllerService {
            commits: CommitBatcher::start(raft.clone()),
            raft,
            shared,
            config,
            leases: Leases::default(),
            metrics,
        }
    }

    /// Answers one request on `replies` (a watch answers many times).
    pub async fn handle(&self, correlation_id: u64, request: ControllerRequest, replies: &mpsc::Sender<RpcResponse>) {
        let started = Instant::now();
        let kind = kind_of(&request);
        let body = match request {
            ControllerRequest::WatchMetadata { since_version, .. } => {
                match self.watch_metadata(correlation_id, since_version, replies).await {
                    Ok(()) => return,
                    Err(error) => Err(error),
                }
            }
            ControllerRequest::RegisterBroker(r) => self.register_broker(r).await,
            ControllerRequest::BrokerHeartbeat(r) => self.broker_heartbeat(r).await,
            ControllerRequest::CreateTopics(r) => self.create_topics(r).await,
            ControllerRequest::DeleteTopics { names } => self.delete_topics(names).await,
            ControllerRequest::CreatePartitions(r) => self.create_partitions(r).await,
            ControllerRequest::AlterConfigs(r) => self.alter_configs(r).await,
            ControllerRequest::AlterPartition(r) => self.alter_partition(r).await,
            ControllerRequest::CommitOffsets(groups) => self.commit_offsets(groups).await,
            ControllerRequest::FetchOffsets(groups) => self.fetch_offsets(groups).await,
            ControllerRequest::DeleteOffsets(groups) => self.delete_offsets(groups).await,
            ControllerRequest::ListOffsetGroups => self.list_offset_groups().await,
            // The leader alone knows the voters' progress; others redirect to it.
            ControllerRequest::DescribeQuorum => self
                .raft
                .check_leader()
                .map(|()| ControllerResponse::DescribeQuorum(self.describe_quorum()))
                .map_err(RpcError::from),
            ControllerRequest::Raft(message) => self.raft.handle(message).await.map(ControllerResponse::Raft),
            ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
            } => self.allocate_producer_ids(broker_id, broker_epoch).await,
            ControllerRequest::AlterReassignments(requests) => self.alter_reassignments(requests).await,
            ControllerRequest::ListReassignments(partitions) => self.list_reassignments(partitions),
            ControllerRequest::ElectLeaders(request) => self.elect_leaders(request).await,
        };
        self.metrics.observe_rpc(kind, started.elapsed());
        let _ = replies.send(RpcResponse { correlation_id, body }).await;
    }

    async fn alter_partition(
        &self,
        request: brook_protocol::rpc::AlterPartition,
    ) -> Result<ControllerResponse, RpcError> {
        use crate::state_machine::{Command, CommandResult};
        match self.raft.propose(Command::AlterPartition(request)).await? {
            CommandResult::Partitions(results) => Ok(ControllerResponse::AlterPartition(results)),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    async fn allocate_producer_ids(&self, broker_id: i32, broker_epoch: i64) -> Result<ControllerResponse, RpcError> {
        use crate::state_machine::{Command, CommandResult};
        let command = Command::AllocateProducerIds {
            broker_id,
            broker_epoch,
        };
        match self.raft.propose(command).await? {
            CommandResult::ProducerIds(block) => Ok(ControllerResponse::ProducerIds(block)),
            CommandResult::Refused(error) => Err(error),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    pub fn describe_quorum(&self) -> QuorumInfo {
        let status = self.raft.status();
        let now = now_millis();
        QuorumInfo {
            leader: status.leader,
            term: status.term,
            commit_index: status.commit_index,
            voters: self
                .raft
                .voters()
                .iter()
                .map(|address| {
                    // The leader is caught up with itself; the others as they answered it.
                    let times = if status.is_leader && status.leader == Some(address.node_id) {
                        PeerTimes {
                            last_fetch: Some(now),
                            last_caught_up: Some(now),
                        }
                    } else {
                        self.raft.peer_times(address.node_id)
                    };
                    VoterInfo {
                        node_id: address.node_id,
                        address: address.clone(),
                        matched_index: status.matched.get(&address.node_id).copied().flatten(),
                        last_fetch_ms: times.last_fetch,
                        last_caught_up_ms: times.last_caught_up,
                    }
                })
                .collect(),
        }
    }

    /// Runs the leader's periodic duties and keeps the metrics current, until the node
    /// stops.
    pub async fn run_background(self: Arc<Self>) {
        let tick =
            (self.config.broker_session_timeout / 20).clamp(Duration::from_millis(20), Duration::from_millis(250));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leading_term = None;
        let mut next_balance_check = Instant::now();
        let mut changes = self.raft.status_changes();
        loop {
            // Leases are checked every tick; a new leader acts at once, without waiting
            // for one (other status changes, such as each applied entry, wait for the tick).
            let ticked = tokio::select! {
                _ = interval.tick() => true,
                alive = changes.changed() => if alive { false } else { return },
            };
            let status = self.raft.status();
            let fresh = status.is_leader && leading_term != Some(status.term);
            if !ticked && !fresh {
                continue;
            }
            self.metrics.record_status(&status, self.shared.read(|s| s.version()));
            if status.is_leader {
                leading_term = Some(status.term);
                self.leader_duties(fresh).await;
                if let Some(interval) = self.config.leader_imbalance_check_interval {
                    // A new leader waits a whole interval first, as Kafka's does: brokers
                    // that just came back need time to rejoin the ISRs.
                    if fresh {
                        next_balance_check = Instant::now() + interval;
                    } else if Instant::now() >= next_balance_check {
                        next_balance_check = Instant::now() + interval;
                        self.balance_leaders().await;
                    }
                }
            } else {
                leading_term = None;
            }
        }
    }
}
