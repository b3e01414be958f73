//! Durable storage of a controller node: the Raft log and vote (redb) and snapshots of
//! the state machine (files).

mod log_store;
mod snapshot_files;
mod state_machine_store;

pub use log_store::LogStore;
pub use snapshot_files::SnapshotFiles;
pub use state_machine_store::{SharedState, StateMachineStore};
