//! The storage engine (docs/architecture.md): one log per partition, as memory-mapped segment
//! files with sparse offset and time indexes.
//!
//! - [`PartitionLog`]: append (leader or follower), zero-copy read, truncate, roll,
//!   leader epochs, flush, retention of one partition.
//! - [`LogManager`]: every partition under the data dirs: create, delete, recovery at
//!   startup, checkpoints, and the background flusher and retention.
//!
//! Inside: `segment` (a `.log` with its indexes), `index` (the mapped index arrays),
//! `scan` (batch walking shared by appends, recovery and index rebuilds), `recovery`
//! (opening segments after a clean or unclean stop), `mapping` (mapped files and the
//! `Bytes` that borrow them), `leader_epoch` and `checkpoint` (the small text files),
//! `producer_state` (idempotent producers' sequences, checked on the leader's appends).

mod checkpoint;
mod clock;
mod config;
mod error;
mod file_write;
mod index;
mod leader_epoch;
mod log_manager;
mod mapping;
mod meta_properties;
mod page_warmer;
mod partition_log;
mod partition_metadata;
mod producer_state;
mod recovery;
pub mod residency;
mod scan;
mod segment;
mod timestamps;

pub(crate) use clock::now_ms;
pub use config::LogConfig;
pub(crate) use error::IoContext;
pub use error::{LogError, Result};
pub use leader_epoch::{EpochEntry, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use log_manager::{DirUsage, LogManager, LogManagerConfig, TopicPartition};
pub use partition_log::{AppendInfo, LogOffsets, PartitionLog};
pub use producer_state::SequenceError;
