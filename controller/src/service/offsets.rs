//! Committed offsets. Commits that arrive while a proposal is in flight are gathered into
//! the next one, so a busy coordinator costs one Raft entry (and one fsync per quorum
//! member) per round trip, not per request.

use brook_protocol::rpc::{CommitOffsets, ControllerResponse, FetchOffsets, OffsetResult, RpcError};
use tokio::sync::{mpsc, oneshot};

use super::ControllerService;
use crate::raft::RaftHandle;
use crate::state_machine::{Command, CommandResult};

/// Groups in one Raft entry at most; more wait for the next round.
const MAX_GROUPS_PER_ENTRY: usize = 4096;
const QUEUE_DEPTH: usize = 4096;

type Reply = oneshot::Sender<Result<Vec<Vec<OffsetResult>>, RpcError>>;

struct PendingCommit {
    groups: Vec<CommitOffsets>,
    reply: Reply,
}

/// Feeds commits to the task that batches them.
#[derive(Clone)]
pub struct CommitBatcher {
    queue: mpsc::Sender<PendingCommit>,
}

impl CommitBatcher {
    /// Starts the batching task; it ends when every `CommitBatcher` is dropped.
    pub fn start(raft: RaftHandle) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(raft, incoming));
        CommitBatcher { queue }
    }

    pub async fn commit(&self, groups: Vec<CommitOffsets>) -> Result<Vec<Vec<OffsetResult>>, RpcError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(PendingCommit { groups, reply })
            .await
            .map_err(|_| RpcError::Internal("controller shutting down".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(RpcError::Internal("controller shutting down".into())))
    }
}

async fn run(raft: RaftHandle, mut incoming: mpsc::Receiver<PendingCommit>) {
    while let Some(first) = incoming.recv().await {
        let mut batch = vec![first];
        let mut groups = batch[0].groups.len();
        while groups < MAX_GROUPS_PER_ENTRY {
            match incoming.try_recv() {
                Ok(next) => {
                    groups += next.groups.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = batch.iter().map(|p| p.groups.len()).collect();
        let (all_groups, replies): (Vec<Vec<CommitOffsets>>, Vec<Reply>) =
            batch.into_iter().map(|p| (p.groups, p.reply)).unzip();
        let command = Command::CommitOffsets(all_groups.into_iter().flatten().collect());
        match raft.propose(command).await {
            Ok(CommandResult::Offsets(results)) => {
                let mut results = results.into_iter();
                for (reply, size) in replies.into_iter().zip(sizes) {
                    let _ = reply.send(Ok(results.by_ref().take(size).collect()));
                }
            }
            Ok(other) => {
                for reply in replies {
                    let _ = reply.send(Err(RpcError::Internal(format!("unexpected result {other:?}"))));
                }
            }
            Err(error) => {
                let error = RpcError::from(error);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

impl ControllerService {
    pub(super) async fn commit_offsets(&self, groups: Vec<CommitOffsets>) -> Result<ControllerResponse, RpcError> {
        self.raft.check_leader()?;
        Ok(ControllerResponse::CommitOffsets(self.commits.commit(groups).await?))
    }

    pub(super) async fn fetch_offsets(&self, groups: Vec<FetchOffsets>) -> Result<ControllerResponse, RpcError> {
        self.raft.read_barrier().await?;
        let offsets = self
            .shared
            .read(|state| groups.iter().map(|g| state.fetch_offsets(g)).collect());
        Ok(ControllerResponse::FetchOffsets(offsets))
    }

    pub(super) async fn list_offset_groups(&self) -> Result<ControllerResponse, RpcError> {
        self.raft.read_barrier().await?;
        let groups = self
            .shared
            .read(|state| state.offsets().group_ids().map(str::to_owned).collect());
        Ok(ControllerResponse::OffsetGroups(groups))
    }

    pub(super) async fn delete_offsets(&self, groups: Vec<FetchOffsets>) -> Result<ControllerResponse, RpcError> {
        match self.raft.propose(Command::DeleteOffsets(groups)).await? {
            CommandResult::Offsets(results) => Ok(ControllerResponse::DeleteOffsets(results)),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }
}
