//! Kafka wire protocol for Brook, with no I/O: bytes in, typed values out, and back.
//!
//! - [`frame`]: the 4-byte size prefix, bounded by `socket.request.max.bytes`.
//! - [`header`]: request header v0–v2 and response header v0–v1.
//! - [`kafka_uuid`]: the 22-character text form Kafka gives UUIDs.
//! - [`api`]: the ApiVersions table Brook advertises.
//! - [`codec`]: decode a request / encode a response (and the client's mirror image).
//! - [`consumer_protocol`]: the consumer subscription and assignment payloads.
//! - [`records`]: RecordBatch v2, zero-copy, with CRC-32C and compression.
//! - [`rpc`]: internal broker↔controller and controller↔controller messages.
//!
//! Every decoder returns a typed error instead of panicking and never allocates more than
//! the bytes it was given can justify.

pub mod api;
pub mod codec;
pub mod consumer_protocol;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod header;
pub mod kafka_uuid;
pub mod records;
pub mod rpc;
pub mod topic_config;
pub mod topic_name;
mod wire;

pub use error::{ErrorCode, ProtocolError};
/// The request and response structs, generated from Kafka's own message schemas.
pub use kafka_protocol::messages;
pub use kafka_protocol::messages::ApiKey;
pub use kafka_protocol::protocol::StrBytes;
