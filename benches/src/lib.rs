//! Fixtures shared by the criterion benchmarks.

use brook_protocol::records::{BatchBuilder, Compression};
use bytes::BytesMut;

/// A record set of about `total_bytes`, made of batches of about `batch_bytes`, each
/// holding records with `value_bytes`-byte values: what a producer sends.
pub fn record_set(total_bytes: usize, batch_bytes: usize, value_bytes: usize) -> BytesMut {
    let value = vec![0xabu8; value_bytes];
    let mut builder = BatchBuilder::new(Compression::None);
    let mut out = BytesMut::with_capacity(total_bytes + batch_bytes);
    let mut timestamp = 1_700_000_000_000i64;
    while out.len() < total_bytes {
        while builder.is_empty() || builder.size_estimate() + value_bytes + 16 <= batch_bytes {
            builder.append(timestamp, Some(b"key"), Some(&value), &[]);
            timestamp += 1;
        }
        builder.build_into(&mut out).expect("non-empty batch");
    }
    out
}
