//! Brook's controller quorum (docs/architecture.md): the cluster's source of truth.
//!
//! - [`ControllerNode`] runs one controller: a Raft log and vote in redb, snapshots as
//!   files, Raft and broker RPCs on one TCP port, Prometheus metrics.
//! - [`state_machine`] is the replicated metadata: brokers, topics, partitions,
//!   consumer-group offsets, cluster configs.
//!
//! Brokers talk to it through `brook-controller-client`, which shares only the wire
//! types (`brook-protocol`) and the plumbing (`brook-server-kit`) with this crate.
//! openraft is an implementation detail: none of its types appear in this API.

pub mod config;
mod metrics;
mod network;
mod node;
mod placement;
mod raft;
mod service;
pub mod state_machine;
mod store;

pub use config::ControllerConfig;
pub use node::{ControllerNode, StartError};
pub use raft::RaftStatus;
