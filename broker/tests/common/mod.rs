//! Helpers shared by the storage tests: batches built with the protocol crate's
//! builder, small configs that make segments roll and indexes fill quickly, and a
//! reader that walks a whole log.
#![allow(dead_code)]

pub mod in_process;

use std::path::Path;

use brook_broker::log::{LogConfig, LogOffsets, PartitionLog};
use brook_protocol::records::{BatchBuilder, BatchView, Batches, Compression};
use bytes::BytesMut;

/// One uncompressed batch of `records` records with `value_len`-byte values; record
/// `i` has timestamp `timestamp + i`.
pub fn batch(records: usize, value_len: usize, timestamp: i64) -> Vec<u8> {
    batch_with(Compression::None, records, value_len, timestamp)
}

pub fn batch_with(compression: Compression, records: usize, value_len: usize, timestamp: i64) -> Vec<u8> {
    let mut builder = BatchBuilder::new(compression);
    let value: Vec<u8> = (0..value_len).map(|i| (i % 251) as u8).collect();
    for i in 0..records {
        let key = format!("key-{i}");
        builder.append(timestamp + i as i64, Some(key.as_bytes()), Some(&value), &[]);
    }
    let mut out = BytesMut::new();
    builder.build_into(&mut out).expect("non-empty batch");
    out.to_vec()
}

/// Segments of a few KiB and an index entry every 256 bytes.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        index_interval_bytes: 256,
        segment_index_bytes: 4096,
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(dir, config, LogOffsets::default(), true).expect("open log")
}

/// Every batch from `from` to the log end, as (base offset, bytes).
pub fn read_all(log: &PartitionLog, from: i64) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let chunks = log.read(next, 64 * 1024, i64::MAX).expect("read");
        assert!(!chunks.is_empty(), "no progress reading at {next}");
        for chunk in chunks {
            for batch in Batches::new(&chunk) {
                let batch = batch.expect("stored batches parse");
                out.push((batch.base_offset(), batch.as_bytes().to_vec()));
                next = batch.next_offset();
            }
        }
    }
    out
}

pub fn base_offset(batch: &[u8]) -> i64 {
    BatchView::new(batch).unwrap().base_offset()
}

/// A batch of `records` records from idempotent producer (`pid`, `epoch`) at `seq`.
pub fn producer_batch(pid: i64, epoch: i16, seq: i32, records: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::new(Compression::None).with_producer(pid, epoch, seq);
    for i in 0..records {
        builder.append(i as i64, None, Some(b"v"), &[]);
    }
    let mut out = BytesMut::new();
    builder.build_into(&mut out).expect("non-empty batch");
    out.to_vec()
}
