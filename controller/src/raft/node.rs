//! [`RaftHandle`]: the controller's view of its openraft node. Proposals, linearizable
//! reads, status, and the server side of Raft RPCs go through here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use brook_protocol::rpc::metadata::NodeId;
use brook_protocol::rpc::{ControllerAddress, RaftMessage, RpcError};
use brook_server_kit::voters::address_string;
use openraft::error::{ForwardToLeader, InitializeError, RaftError};
use openraft::{BasicNode, Config, ServerState, SnapshotPolicy};
use tokio::sync::watch;

use super::types::{Raft, TypeConfig};
use crate::config::ControllerConfig;
use crate::network::peer_times::{PeerClock, PeerTimes};
use crate::network::raft_network::RaftNetworkFactoryImpl;
use crate::state_machine::{Command, CommandResult};
use crate::store::{LogStore, StateMachineStore};

/// Why a proposal or read did not happen here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("not the controller leader (leader: {0:?})")]
    NotLeader(Option<ControllerAddress>),
    #[error("raft stopped: {0}")]
    Stopped(String),
}

impl From<ProposeError> for RpcError {
    fn from(error: ProposeError) -> Self {
        match error {
            ProposeError::NotLeader(leader) => RpcError::NotController { leader },
            ProposeError::Stopped(reason) => RpcError::Internal(reason),
        }
    }
}

/// What this node knows of the quorum right now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RaftStatus {
    pub term: u64,
    pub leader: Option<NodeId>,
    pub is_leader: bool,
    pub last_log_index: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    /// Entries up to here are gone from the log; a follower needing them gets a snapshot.
    pub purged_index: u64,
    /// On the leader: the highest log index known replicated on each voter.
    pub matched: BTreeMap<NodeId, Option<u64>>,
}

#[derive(Clone)]
pub struct RaftHandle {
    raft: Raft,
    voters: Arc<Vec<ControllerAddress>>,
    committed: Arc<AtomicU64>,
    clock: PeerClock,
}

fn openraft_config(config: &ControllerConfig) -> Result<Config, String> {
    let election_ms = config.election_timeout.as_millis() as u64;
    let interval = config.snapshot_interval_entries;
    Config {
        cluster_name: "brook-controller".into(),
        election_timeout_min: election_ms,
        election_timeout_max: election_ms * 2,
        heartbeat_interval: (election_ms / 5).max(10),
        install_snapshot_timeout: 10_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(interval),
        // A follower further behind than this after a snapshot catches up from the snapshot.
        max_in_snapshot_log_to_keep: interval.min(1000),
        ..Default::default()
    }
    .validate()
    .map_err(|e| e.to_string())
}

impl RaftHandle {
    /// Starts the node; on the first start of a fresh quorum every voter proposes the
    /// same initial membership (openraft allows that: the vote decides, once).
    pub async fn start(
        config: &ControllerConfig,
        log_store: LogStore,
        state_machine: StateMachineStore,
    ) -> Result<Self, String> {
        let committed = log_store.committed_index();
        let raft_config = Arc::new(openraft_config(config)?);
        let clock = PeerClock::default();
        let network = RaftNetworkFactoryImpl {
            clock: clock.clone(),
            max_payload_entries: raft_config.max_payload_entries,
        };
        let raft = Raft::new(config.node_id, raft_config, network, log_store, state_machine)
            .await
            .map_err(|e| e.to_string())?;
        let handle = RaftHandle {
            raft,
            voters: Arc::new(config.voters.clone()),
            committed,
            clock,
        };
        if !handle.raft.is_initialized().await.map_err(|e| e.to_string())? {
            let members: BTreeMap<NodeId, BasicNode> = config
                .voters
                .iter()
                .map(|v| (v.node_id, BasicNode::new(address_string(v))))
                .collect();
            match handle.raft.initialize(members).await {
                Ok(()) => tracing::info!(node_id = config.node_id, "initialized a fresh controller quorum"),
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(handle)
    }

    fn address_of(&self, node_id: NodeId) -> Option<ControllerAddress> {
        self.voters.iter().find(|v| v.node_id == node_id).cloned()
    }

    fn not_leader(&self, forward: Option<&ForwardToLeader<NodeId, BasicNode>>) -> ProposeError {
        let leader = forward
            .and_then(|f| f.leader_id)
            .or_else(|| self.raft.metrics().borrow().current_leader);
        ProposeError::NotLeader(leader.and_then(|id| self.address_of(id)))
    }

    /// A stopped node, or (for any other refusal: not the leader, leadership lost, no
    /// quorum) the leader to retry at.
    fn refusal<E>(&self, error: &RaftError<NodeId, E>) -> ProposeError
    where
        E: std::fmt::Debug + openraft::TryAsRef<ForwardToLeader<NodeId, BasicNode>>,
    {
        match error.fatal() {
            Some(fatal) => ProposeError::Stopped(fatal.to_string()),
            None => self.not_leader(error.forward_to_leader()),
        }
    }

    /// Appends a command and waits until it is committed and applied here.
    pub async fn propose(&self, command: Command) -> Result<CommandResult, ProposeError> {
        match self.raft.client_write(command).await {
            Ok(response) => Ok(response.data),
            Err(e) => Err(self.refusal(&e)),
        }
    }

    /// Waits until this node is confirmed leader and has applied everything committed
    /// before the call, so a read after it sees every earlier write.
    pub async fn read_barrier(&self) -> Result<(), ProposeError> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.refusal(&e)),
        }
    }

    /// Like [`Self::read_barrier`], within `timeout`: a leader cut off from the other
    /// voters still believes it leads, and would otherwise take (and lose) requests
    /// that only the real leader can act on, such as broker heartbeats.
    pub async fn confirm_leader(&self, timeout: std::time::Duration) -> Result<(), ProposeError> {
        self.check_leader()?;
        match tokio::time::timeout(timeout, self.read_barrier()).await {
            Ok(confirmed) => confirmed,
            Err(_) => Err(ProposeError::NotLeader(None)),
        }
    }

    /// Fails fast with the leader's address when this node does not believe it leads.
    pub fn check_leader(&self) -> Result<(), ProposeError> {
        if self.raft.metrics().borrow().state == ServerState::Leader {
            Ok(())
        } else {
            Err(self.not_leader(None))
        }
    }

    /// When `peer` last answered this node's AppendEntries, and was last caught up.
    pub fn peer_times(&self, peer: NodeId) -> PeerTimes {
        self.clock.get(peer)
    }

    pub fn status(&self) -> RaftStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let is_leader = metrics.state == ServerState::Leader;
        RaftStatus {
            term: metrics.current_term,
            leader: metrics.current_leader,
            is_leader,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            commit_index: self.committed.load(Ordering::Relaxed),
            applied_index: metrics.last_applied.map(|id| id.index).unwrap_or(0),
            snapshot_index: metrics.snapshot.map(|id| id.index).unwrap_or(0),
            purged_index: metrics.purged.map(|id| id.index).unwrap_or(0),
            matched: metrics
                .replication
                .map(|r| {
                    r.into_iter()
                        .map(|(id, log_id)| (id, log_id.map(|l| l.index)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Changes whenever openraft's metrics do (term, leader, indexes).
    pub fn status_changes(&self) -> StatusChanges {
        StatusChanges(self.raft.metrics())
    }

    pub fn voters(&self) -> &[ControllerAddress] {
        &self.voters
    }

    /// The server side of a Raft RPC from another controller.
    pub async fn handle(&self, message: RaftMessage) -> Result<RaftMessage, RpcError> {
        fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, RpcError> {
            postcard::from_bytes(bytes).map_err(|e| RpcError::Internal(format!("bad raft message: {e}")))
        }
        fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, RpcError> {
            postcard::to_stdvec(value).map_err(|e| RpcError::Internal(e.to_string()))
        }
        match message {
            RaftMessage::AppendEntries(bytes) => {
                let result = self.raft.append_entries(decode(&bytes)?).await;
                Ok(RaftMessage::AppendEntries(encode(&result)?))
            }
            RaftMessage::Vote(bytes) => {
                let result = self.raft.vote(decode(&bytes)?).await;
                Ok(RaftMessage::Vote(encode(&result)?))
            }
            RaftMessage::InstallSnapshot(bytes) => {
                let result = self.raft.install_snapshot(decode(&bytes)?).await;
                Ok(RaftMessage::InstallSnapshot(encode(&result)?))
            }
        }
    }

    /// Asks for a snapshot now (tests and operators; normally the policy decides).
    pub async fn trigger_snapshot(&self) -> Result<(), ProposeError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ProposeError::Stopped(e.to_string()))
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// Wakes on every change of the node's Raft status.
pub struct StatusChanges(watch::Receiver<openraft::RaftMetrics<NodeId, BasicNode>>);

impl StatusChanges {
    /// `false` once the node has stopped.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

// Keeps the compiler honest that the type config is the one this handle drives.
const _: fn() = || {
    let _: Option<openraft::Raft<TypeConfig>> = None;
};
