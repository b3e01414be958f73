//! openraft's type configuration for the controller, in one place.

use std::io::Cursor;

use crate::state_machine::{Command, CommandResult};

openraft::declare_raft_types!(
    /// Raft entries are [`Command`]s; applying one answers a [`CommandResult`]. Nodes are
    /// reached at a `host:port` address.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = u64,
        Node = openraft::BasicNode,
);

pub type NodeId = u64;
pub type LogId = openraft::LogId<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type Vote = openraft::Vote<NodeId>;
pub type Raft = openraft::Raft<TypeConfig>;
