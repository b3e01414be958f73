//! Brook broker: storage engine, Kafka network server, request handlers, replication,
//! purgatory and group coordinator (docs/architecture.md).
//!
//! - [`log`]: the storage engine.
//! - [`replica`]: the partitions this broker hosts and its role for each.
//! - [`config`]: the broker's settings.

pub mod config;
pub mod groups;
pub mod handlers;
pub mod log;
pub mod metrics;
mod node;
pub mod producer_ids;
pub mod replica;
pub mod server;

pub use node::{BrokerNode, BrokerStartError};
