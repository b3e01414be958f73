//! The openraft state machine over [`ControllerState`]: applies committed entries, builds
//! and installs snapshots. The state is shared (behind a lock never held across an
//! `.await`) with the controller service, which reads it and is woken on every change.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use parking_lot::RwLock;
use tokio::sync::watch;

use super::snapshot_files::SnapshotFiles;
use crate::raft::types::{Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use crate::state_machine::{CommandResult, ControllerState};

struct Applied {
    state: ControllerState,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

/// The applied state, readable by the service.
pub struct SharedState {
    applied: RwLock<Applied>,
    /// The metadata version, published after every apply (watchers wait on it).
    version: watch::Sender<u64>,
}

impl SharedState {
    pub fn read<R>(&self, f: impl FnOnce(&ControllerState) -> R) -> R {
        f(&self.applied.read().state)
    }

    pub fn subscribe_version(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn publish(&self, version: u64) {
        self.version
            .send_if_modified(|v| std::mem::replace(v, version) != version);
    }
}

pub struct StateMachineStore {
    shared: Arc<SharedState>,
    snapshots: Arc<SnapshotFiles>,
}

fn read_error(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_snapshot(None, openraft::AnyError::error(e)).into()
}

impl StateMachineStore {
    /// Loads the newest snapshot, if any; openraft re-applies the log after it.
    pub fn open(snapshots: SnapshotFiles, history_limit: usize) -> std::io::Result<Self> {
        let mut state = ControllerState::new(history_limit);
        let (last_applied, membership) = match snapshots.latest()? {
            Some(stored) => {
                state
                    .restore_snapshot(&stored.data)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                (stored.meta.last_log_id, stored.meta.last_membership)
            }
            None => (None, StoredMembership::default()),
        };
        let version = state.version();
        let shared = Arc::new(SharedState {
            applied: RwLock::new(Applied {
                state,
                last_applied,
                membership,
            }),
            version: watch::Sender::new(version),
        });
        Ok(StateMachineStore {
            shared,
            snapshots: Arc::new(snapshots),
        })
    }

    pub fn shared(&self) -> Arc<SharedState> {
        Arc::clone(&self.shared)
    }
}

pub struct SnapshotBuilder {
    shared: Arc<SharedState>,
    snapshots: Arc<SnapshotFiles>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (meta, data) = {
            let applied = self.shared.applied.read();
            let data = applied.state.encode_snapshot().map_err(read_error)?;
            let last = applied.last_applied;
            let meta = SnapshotMeta {
                last_log_id: last,
                last_membership: applied.membership.clone(),
                snapshot_id: format!(
                    "{}-{}",
                    last.map(|id| id.leader_id.term).unwrap_or(0),
                    last.map(|id| id.index).unwrap_or(0)
                ),
            };
            (meta, data)
        };
        let snapshots = Arc::clone(&self.snapshots);
        let (meta, data) = tokio::task::spawn_blocking(move || snapshots.save(&meta, &data).map(|()| (meta, data)))
            .await
            .map_err(read_error)?
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "controller snapshot written");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = self.shared.applied.read();
        Ok((applied.last_applied, applied.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, StorageError>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let (results, version) = {
            let mut applied = self.shared.applied.write();
            let mut results = Vec::new();
            for entry in entries {
                applied.last_applied = Some(entry.log_id);
                let result = match &entry.payload {
                    EntryPayload::Blank => CommandResult::Done,
                    EntryPayload::Normal(command) => applied.state.apply(command),
                    EntryPayload::Membership(membership) => {
                        applied.membership = StoredMembership::new(Some(entry.log_id), membership.clone());
                        CommandResult::Done
                    }
                };
                results.push(result);
            }
            (results, applied.state.version())
        };
        self.shared.publish(version);
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: Arc::clone(&self.shared),
            snapshots: Arc::clone(&self.snapshots),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let history_limit = self.shared.read(|s| s.history_limit());
        let mut state = ControllerState::new(history_limit);
        state.restore_snapshot(&data).map_err(read_error)?;
        let snapshots = Arc::clone(&self.snapshots);
        let saved_meta = meta.clone();
        tokio::task::spawn_blocking(move || snapshots.save(&saved_meta, &data))
            .await
            .map_err(read_error)?
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let version = state.version();
        {
            let mut applied = self.shared.applied.write();
            applied.state = state;
            applied.last_applied = meta.last_log_id;
            applied.membership = meta.last_membership.clone();
        }
        self.shared.publish(version);
        tracing::info!(snapshot = %meta.snapshot_id, "installed a controller snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let snapshots = Arc::clone(&self.snapshots);
        let stored = tokio::task::spawn_blocking(move || snapshots.latest())
            .await
            .map_err(read_error)?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(stored.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}
