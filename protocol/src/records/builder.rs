//! Writes RecordBatch v2 batches (the client's producer, tests, benchmarks).

use bytes::{BufMut, Bytes, BytesMut};

use super::RecordError;
use super::batch::{ATTRIBUTES, BATCH_HEADER_LEN, CRC, LOG_OVERHEAD, MAGIC_V2};
use super::compression::Compression;
use super::varint::{len_i64, put_i64};

/// A record header to append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// Accumulates records, then writes them as one batch.
///
/// The records are encoded as they are appended into one buffer that starts with room
/// for the batch header, so building a batch allocates nothing per record, and
/// [`BatchBuilder::finish`] turns an uncompressed batch into bytes without copying it.
/// `baseOffset` is written as 0: the leader assigns it.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// `BATCH_HEADER_LEN` bytes of room, then the records; empty before the first.
    buffer: Vec<u8>,
    /// Bytes to reserve for a batch's buffer at its first record.
    capacity: usize,
    scratch: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl BatchBuilder {
    pub fn new(compression: Compression) -> Self {
        BatchBuilder {
            compression,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            buffer: Vec::new(),
            capacity: 0,
            scratch: Vec::new(),
            count: 0,
            base_timestamp: 0,
            max_timestamp: -1,
        }
    }

    /// Reserves `bytes` (a producer's `batch.size`) at each batch's first record, so a
    /// batch is not copied as it grows.
    pub fn with_capacity(mut self, bytes: usize) -> Self {
        self.capacity = bytes;
        self
    }

    /// Idempotent-producer fields (defaults: -1, no idempotence).
    pub fn with_producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch would take uncompressed.
    pub fn size_estimate(&self) -> usize {
        self.buffer.len().max(BATCH_HEADER_LEN)
    }

    fn records(&self) -> &[u8] {
        self.buffer.get(BATCH_HEADER_LEN..).unwrap_or_default()
    }

    /// Appends one record with a timestamp in milliseconds.
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[HeaderRef<'_>]) {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        let timestamp_delta = timestamp - self.base_timestamp;
        let offset_delta = i64::from(self.count);

        let nullable_len = |field: Option<&[u8]>| field.map_or(len_i64(-1), |b| len_i64(b.len() as i64) + b.len());
        let body_len = 1
            + len_i64(timestamp_delta)
            + len_i64(offset_delta)
            + nullable_len(key)
            + nullable_len(value)
            + len_i64(headers.len() as i64)
            + headers
                .iter()
                .map(|h| len_i64(h.key.len() as i64) + h.key.len() + nullable_len(h.value))
                .sum::<usize>();

        let out = &mut self.buffer;
        if out.is_empty() {
            out.reserve(self.capacity.max(BATCH_HEADER_LEN + body_len + 8));
            out.resize(BATCH_HEADER_LEN, 0);
        }
        out.reserve(len_i64(body_len as i64) + body_len);
        put_i64(out, body_len as i64);
        out.push(0); // record attributes: unused
        put_i64(out, timestamp_delta);
        put_i64(out, offset_delta);
        put_nullable(out, key);
        put_nullable(out, value);
        put_i64(out, headers.len() as i64);
        for header in headers {
            put_i64(out, header.key.len() as i64);
            out.extend_from_slice(header.key);
            put_nullable(out, header.value);
        }
        self.count += 1;
    }

    /// The batch header for the records section `payload`; its CRC covers the header
    /// from `attributes` on and then the payload.
    fn header(&self, payload: &[u8]) -> Result<[u8; BATCH_HEADER_LEN], RecordError> {
        let batch_length = BATCH_HEADER_LEN - LOG_OVERHEAD + payload.len();
        let batch_length = i32::try_from(batch_length).map_err(|_| RecordError::InvalidLength(i32::MAX))?;
        let mut header = [0u8; BATCH_HEADER_LEN];
        let mut out = &mut header[..];
        out.put_i64(0); // baseOffset: assigned by the leader
        out.put_i32(batch_length);
        out.put_i32(-1); // partitionLeaderEpoch: stamped by the leader
        out.put_i8(MAGIC_V2);
        out.put_u32(0); // crc, filled in below
        out.put_i16(self.compression.attribute_bits());
        out.put_i32(self.count - 1);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.count);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES..]), payload);
        header[CRC..ATTRIBUTES].copy_from_slice(&crc.to_be_bytes());
        Ok(header)
    }

    fn reset(&mut self) {
        self.count = 0;
        self.max_timestamp = -1;
    }

    /// The finished batch; the builder starts the next one. An uncompressed batch is
    /// the builder's own buffer with its header filled in: no copy.
    pub fn finish(&mut self) -> Result<Bytes, RecordError> {
        if self.count == 0 {
            return Err(RecordError::Empty);
        }
        if self.compression != Compression::None {
            let mut out = BytesMut::new();
            self.build_into(&mut out)?;
            return Ok(out.freeze());
        }
        let header = self.header(self.records())?;
        let mut batch = std::mem::take(&mut self.buffer);
        batch[..BATCH_HEADER_LEN].copy_from_slice(&header);
        self.reset();
        Ok(Bytes::from(batch))
    }

    /// Appends the finished batch to `out` and resets the builder for the next one.
    pub fn build_into(&mut self, out: &mut BytesMut) -> Result<(), RecordError> {
        if self.count == 0 {
            return Err(RecordError::Empty);
        }
        let records = self.buffer.get(BATCH_HEADER_LEN..).unwrap_or_default();
        let payload: &[u8] = if self.compression == Compression::None {
            records
        } else {
            self.scratch.clear();
            self.compression.compress(records, &mut self.scratch)?;
            &self.scratch
        };
        let header = self.header(payload)?;
        out.reserve(BATCH_HEADER_LEN + payload.len());
        out.put_slice(&header);
        out.put_slice(payload);
        self.buffer.clear();
        self.reset();
        Ok(())
    }
}

fn put_nullable(out: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        Some(bytes) => {
            put_i64(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
        None => put_i64(out, -1),
    }
}

impl BatchBuilder {
    /// Sets the first sequence number of the next batch (idempotent producers).
    pub fn set_base_sequence(&mut self, base_sequence: i32) {
        self.base_sequence = base_sequence;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::BatchView;

    fn fill(builder: &mut BatchBuilder, n: usize) {
        for i in 0..n {
            let value = format!("value-{i}");
            builder.append(1_000 + i as i64, Some(b"k"), Some(value.as_bytes()), &[]);
        }
    }

    #[test]
    fn finish_gives_the_same_batch_as_build_into_and_starts_the_next() {
        for codec in [Compression::None, Compression::Lz4] {
            let mut copied = BatchBuilder::new(codec);
            let mut in_place = BatchBuilder::new(codec).with_capacity(64);
            fill(&mut copied, 50);
            fill(&mut in_place, 50);
            let mut expected = BytesMut::new();
            copied.build_into(&mut expected).unwrap();
            let finished = in_place.finish().unwrap();
            assert_eq!(finished, expected.freeze(), "{codec:?}");
            let view = BatchView::new(&finished).unwrap();
            view.validate().unwrap();
            assert_eq!(view.records_count(), 50);

            assert!(in_place.is_empty());
            assert_eq!(in_place.finish().unwrap_err(), RecordError::Empty);
            fill(&mut in_place, 3);
            let second = in_place.finish().unwrap();
            let view = BatchView::new(&second).unwrap();
            view.validate().unwrap();
            assert_eq!((view.records_count(), view.base_timestamp()), (3, 1_000));
        }
    }
}
