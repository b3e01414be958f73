//! A record as the consumer hands it out, and the decoding of a fetched record set into
//! them. Keys, values and header values are `Bytes` slices of the fetch response (or of
//! a batch's decompressed payload): decoding copies no record bytes.

use std::sync::Arc;

use brook_protocol::records::{BatchView, Batches, RecordError, TimestampType};
use bytes::Bytes;

/// One record read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; see `timestamp_type` for whose clock.
    pub timestamp: i64,
    pub timestamp_type: TimestampType,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    /// Header keys are strings in Kafka; one that is not UTF-8 is read lossily.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// What one partition's record set decoded to.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub records: Vec<ConsumerRecord>,
    /// The offset after the last whole batch (control batches included): where the next
    /// fetch starts. `None` when no whole batch arrived.
    pub next_offset: Option<i64>,
}

/// Largest decompressed batch accepted; Kafka's default `message.max.bytes` is 1 MiB,
/// so a legitimate batch is far below it.
const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// Decodes the whole batches of `record_set` into records at or after `from` (a batch
/// can start before the offset asked for). Control batches (transaction markers) yield
/// no records. A trailing partial batch is ignored: the next fetch asks for it again.
pub(crate) fn decode(
    topic: &Arc<str>,
    partition: i32,
    record_set: &Bytes,
    from: i64,
    check_crcs: bool,
) -> Result<Decoded, RecordError> {
    let mut decoded = Decoded::default();
    for batch in Batches::new(record_set) {
        let batch = batch?;
        if check_crcs {
            batch.validate()?;
        }
        decoded.next_offset = Some(batch.next_offset());
        if batch.is_control() || batch.last_offset() < from {
            continue;
        }
        decode_batch(topic, partition, record_set, &batch, from, &mut decoded.records)?;
    }
    Ok(decoded)
}

fn decode_batch(
    topic: &Arc<str>,
    partition: i32,
    record_set: &Bytes,
    batch: &BatchView<'_>,
    from: i64,
    out: &mut Vec<ConsumerRecord>,
) -> Result<(), RecordError> {
    let payload = match batch.records_payload(MAX_DECOMPRESSED)? {
        std::borrow::Cow::Borrowed(section) => record_set.slice_ref(section),
        std::borrow::Cow::Owned(decompressed) => Bytes::from(decompressed),
    };
    let log_append = batch.timestamp_type() == TimestampType::LogAppendTime;
    out.reserve(batch.records_count().max(0) as usize);
    for record in batch.records(&payload) {
        let record = record?;
        let offset = batch.base_offset() + i64::from(record.offset_delta);
        if offset < from {
            continue;
        }
        let slice = |bytes: &[u8]| payload.slice_ref(bytes);
        let mut headers = Vec::new();
        for header in record.headers() {
            let header = header?;
            headers.push((
                String::from_utf8_lossy(header.key).into_owned(),
                header.value.map(slice),
            ));
        }
        out.push(ConsumerRecord {
            topic: Arc::clone(topic),
            partition,
            offset,
            timestamp: if log_append {
                batch.max_timestamp()
            } else {
                batch.base_timestamp() + record.timestamp_delta
            },
            timestamp_type: batch.timestamp_type(),
            key: record.key.map(slice),
            value: record.value.map(slice),
            headers,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use brook_protocol::records::{BatchBuilder, Compression, HeaderRef, assign_offsets};
    use bytes::BytesMut;

    /// Key and value of each record of a batch.
    type Pairs<'a> = &'a [(&'a [u8], &'a [u8])];

    fn record_set(batches: &[(i64, Compression, Pairs<'_>)]) -> Bytes {
        let mut out = BytesMut::new();
        for (base, codec, records) in batches {
            let mut builder = BatchBuilder::new(*codec);
            for (i, (key, value)) in records.iter().enumerate() {
                let headers = [HeaderRef {
                    key: b"n",
                    value: Some(value),
                }];
                builder.append(1_000 + i as i64, Some(key), Some(value), &headers);
            }
            let mut one = BytesMut::new();
            builder.build_into(&mut one).unwrap();
            assign_offsets(&mut one, *base, 0).unwrap();
            out.extend_from_slice(&one);
        }
        out.freeze()
    }

    #[test]
    fn decodes_every_codec_from_the_offset_asked() {
        let topic: Arc<str> = Arc::from("t");
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let set = record_set(&[(10, codec, &[(b"a", b"1"), (b"b", b"2")]), (12, codec, &[(b"c", b"3")])]);
            let decoded = decode(&topic, 4, &set, 11, true).unwrap();
            let got: Vec<(i64, &[u8], &[u8])> = decoded
                .records
                .iter()
                .map(|r| (r.offset, r.key.as_deref().unwrap(), r.value.as_deref().unwrap()))
                .collect();
            assert_eq!(got, [(11, &b"b"[..], &b"2"[..]), (12, b"c", b"3")], "{codec:?}");
            assert_eq!(decoded.next_offset, Some(13));
            let second = &decoded.records[0];
            assert_eq!((second.partition, second.timestamp), (4, 1_001));
            assert_eq!(second.headers, [("n".to_owned(), Some(Bytes::from_static(b"2")))]);
        }
    }

    #[test]
    fn a_trailing_partial_batch_is_left_for_the_next_fetch() {
        let topic: Arc<str> = Arc::from("t");
        let set = record_set(&[
            (0, Compression::None, &[(b"a", b"1")]),
            (1, Compression::None, &[(b"b", b"2")]),
        ]);
        let cut = set.slice(..set.len() - 3);
        let decoded = decode(&topic, 0, &cut, 0, true).unwrap();
        assert_eq!(decoded.records.len(), 1);
        assert_eq!(decoded.next_offset, Some(1));
        assert!(
            decode(&topic, 0, &set.slice(..20), 0, true)
                .unwrap()
                .next_offset
                .is_none()
        );
    }

    #[test]
    fn a_corrupt_batch_is_an_error() {
        let topic: Arc<str> = Arc::from("t");
        let mut set = record_set(&[(0, Compression::None, &[(b"a", b"1")])]).to_vec();
        let last = set.len() - 1;
        set[last] ^= 0xff;
        assert!(decode(&topic, 0, &Bytes::from(set), 0, true).is_err());
    }
}
