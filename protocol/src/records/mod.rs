//! Kafka RecordBatch v2 (magic 2), zero-copy.
//!
//! A batch is viewed in place ([`BatchView`]), validated by its header and CRC-32C, and
//! given its offsets by rewriting two header fields that the CRC does not cover
//! ([`BatchViewMut`]). Records are read lazily ([`RecordIter`]) only where someone needs
//! them (the client, deep validation); the broker moves whole batches as bytes.
//! [`BatchBuilder`] writes batches for the client.

mod batch;
mod builder;
mod compression;
mod error;
mod record;
pub mod varint;

pub use batch::{
    BATCH_HEADER_LEN, BatchView, BatchViewMut, Batches, LOG_OVERHEAD, MAGIC_V2, RecordSetSummary, TimestampType,
    assign_offsets, min_record_timestamp, set_log_append_time, validate_record_set,
};
pub use builder::{BatchBuilder, HeaderRef};
pub use compression::Compression;
pub use error::RecordError;
pub use record::{Header, Record, RecordIter};

#[cfg(test)]
mod tests;
