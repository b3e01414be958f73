//! Brook's controller quorum (docs/architecture.md): the cluster's source of truth.
//!
//! - [`ControllerNode`] runs one controller: a Raft log and vote in redb, snapshots as
//!   files, Raft and broker RPCs on one TCP port, Prometheus metrics.
//! - [`state_machine`] is the replicated metadata: brokers, topics, partitions,
//!   consumer-group offsets, cluster configs.
//! - [`client`] is what brokers use: requests that follow the leader, registration and
//!   heartbeats, and the metadata watch feeding a [`client::MetadataCache`].
//!
//! openraft is an implementation detail: none of its types appear in this API.

pub mod client;
pub mod config;
mod metrics;
mod metrics_http;
mod network;
mod node;
pub mod placement;
pub mod properties;
mod raft;
mod service;
pub mod state_machine;
mod store;
pub mod topic_config;

pub use config::ControllerConfig;
pub use metrics_http::serve_metrics;
pub use network::accept::accept_until;
pub use node::{ControllerNode, StartError};
pub use raft::RaftStatus;
pub use service::validate_topic_name;
