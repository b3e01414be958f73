//! Brook broker: storage engine, Kafka network server, request handlers, replication,
//! purgatory and group coordinator (docs/architecture.md).
//!
//! - [`log`]: the storage engine.
//! - [`replica`]: the partitions this broker hosts and its role for each.
//! - [`config`]: the broker's settings.

pub mod config;
mod groups;
mod handlers;
pub mod log;
mod metrics;
mod node;
mod producer_ids;
pub mod replica;
mod request_time;
mod server;

pub use node::{BrokerNode, BrokerStartError};
pub use request_time::PHASES as REQUEST_PHASES;
