//! Brook's async Kafka client, on tokio. It speaks the Kafka wire protocol, negotiates
//! API versions with ApiVersions, and so works against any Kafka-compatible broker.
//!
//! - [`Client`]: the cluster view (bootstrap, Metadata, a pipelined connection per
//!   broker), topic administration (create, delete, partitions, configs, reassignment,
//!   leader elections), consumer-group administration and ListOffsets.
//! - [`Producer`]: batching, partitioning, compression, acks and retries.
//! - [`Consumer`]: assigned or group-managed partitions, read-ahead fetching, commits.
//!
//! ```no_run
//! # async fn example() -> brook_client::Result<()> {
//! use brook_client::{Client, ClientConfig, OffsetSpec};
//!
//! let client = Client::new(ClientConfig::new("127.0.0.1:9092"));
//! for group in client.list_groups().await? {
//!     println!("{} {}", group.group_id, group.state);
//! }
//! let ends = client.list_offsets(&[("orders".to_owned(), 0)], OffsetSpec::Latest).await?;
//! println!("orders-0 ends at {}", ends[&("orders".to_owned(), 0)]);
//! # Ok(())
//! # }
//! ```

mod admin;
mod client;
mod cluster;
mod connection;
mod consumer;
mod delivery;
mod error;
mod groups;
mod offsets;
mod partitioner;
mod producer;

pub use admin::{ConfigChange, ConfigEntry, Election, NewTopic, OngoingReassignment, PartitionOutcome};
pub use client::{Client, ClientConfig, PartitionInfo, TopicInfo};
pub use cluster::{BrokerInfo, ClusterInfo, QuorumStatus, Voter};
pub use connection::{BrokerConnection, Pending};
pub use consumer::{
    Assignor, CommitHandle, Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, RebalanceListener, TopicPartition,
};
pub use delivery::{DeliveryFuture, RecordMetadata};
pub use error::{Error, Result, error_name};
pub use groups::{GroupDescription, GroupListing, GroupMember};
pub use offsets::OffsetSpec;
pub use partitioner::{murmur2, partition_for_key};
pub use producer::{Acks, Producer, ProducerConfig, Record};
