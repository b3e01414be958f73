//! The RecordBatch v2 header, viewed in place.
//!
//! ```text
//! offset  field                  covered by CRC
//!  0      baseOffset      int64  no   (assigned by the leader)
//!  8      batchLength     int32  no   (bytes after this field)
//! 12      partitionLeaderEpoch   no   (stamped by the leader)
//! 16      magic           int8   no
//! 17      crc             uint32 -
//! 21      attributes      int16  yes, from here to the end of the batch
//! 23      lastOffsetDelta int32
//! 27      baseTimestamp   int64
//! 35      maxTimestamp    int64
//! 43      producerId      int64
//! 51      producerEpoch   int16
//! 53      baseSequence    int32
//! 57      recordsCount    int32
//! 61      records…
//! ```

use std::borrow::Cow;

use super::RecordError;
use super::compression::Compression;
use super::record::RecordIter;

/// `baseOffset` + `batchLength`: the bytes before the length-counted part of a batch.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the v2 batch header, up to and including `recordsCount`.
pub const BATCH_HEADER_LEN: usize = 61;
/// The only magic Brook stores.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET: usize = 0;
const BATCH_LENGTH: usize = 8;
const PARTITION_LEADER_EPOCH: usize = 12;
const MAGIC: usize = 16;
pub(super) const CRC: usize = 17;
pub(super) const ATTRIBUTES: usize = 21;
const LAST_OFFSET_DELTA: usize = 23;
const BASE_TIMESTAMP: usize = 27;
const MAX_TIMESTAMP: usize = 35;
const PRODUCER_ID: usize = 43;
const PRODUCER_EPOCH: usize = 51;
const BASE_SEQUENCE: usize = 53;
const RECORDS_COUNT: usize = 57;

const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Smallest possible record: length, attributes, timestamp delta, offset delta, key
/// length, value length and header count, one byte each.
const MIN_RECORD_LEN: usize = 7;

/// Whether a batch's timestamps are the producer's or the broker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

#[inline]
fn read<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// Length of the batch at the start of `buf` from its `batchLength` field, once the
/// first 12 bytes are there. Errors when the field is impossible.
fn batch_size_at(buf: &[u8]) -> Result<Option<usize>, RecordError> {
    if buf.len() < LOG_OVERHEAD {
        return Ok(None);
    }
    let batch_length = i32::from_be_bytes(read(buf, BATCH_LENGTH));
    if batch_length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(RecordError::InvalidLength(batch_length));
    }
    Ok(Some(LOG_OVERHEAD + batch_length as usize))
}

/// One whole RecordBatch v2, borrowed. Its length and magic have been checked; its CRC
/// and counts are checked by [`BatchView::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Views the batch at the start of `buf`; bytes after it are ignored.
    pub fn new(buf: &'a [u8]) -> Result<BatchView<'a>, RecordError> {
        let size = batch_size_at(buf)?.ok_or(RecordError::Truncated {
            what: "batch header",
            needed: LOG_OVERHEAD,
            available: buf.len(),
        })?;
        if buf.len() < size {
            return Err(RecordError::Truncated {
                what: "batch",
                needed: size,
                available: buf.len(),
            });
        }
        let magic = buf[MAGIC] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordError::UnsupportedMagic(magic));
        }
        Ok(BatchView { bytes: &buf[..size] })
    }

    /// The whole batch, as it is stored and sent.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    pub fn base_offset(&self) -> i64 {
        i64::from_be_bytes(read(self.bytes, BASE_OFFSET))
    }

    pub fn batch_length(&self) -> i32 {
        i32::from_be_bytes(read(self.bytes, BATCH_LENGTH))
    }

    pub fn partition_leader_epoch(&self) -> i32 {
        i32::from_be_bytes(read(self.bytes, PARTITION_LEADER_EPOCH))
    }

    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC] as i8
    }

    pub fn crc(&self) -> u32 {
        u32::from_be_bytes(read(self.bytes, CRC))
    }

    pub fn attributes(&self) -> i16 {
        i16::from_be_bytes(read(self.bytes, ATTRIBUTES))
    }

    pub fn compression(&self) -> Result<Compression, RecordError> {
        Compression::from_attributes(self.attributes())
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_BIT != 0
    }

    pub fn last_offset_delta(&self) -> i32 {
        i32::from_be_bytes(read(self.bytes, LAST_OFFSET_DELTA))
    }

    pub fn base_timestamp(&self) -> i64 {
        i64::from_be_bytes(read(self.bytes, BASE_TIMESTAMP))
    }

    pub fn max_timestamp(&self) -> i64 {
        i64::from_be_bytes(read(self.bytes, MAX_TIMESTAMP))
    }

    pub fn producer_id(&self) -> i64 {
        i64::from_be_bytes(read(self.bytes, PRODUCER_ID))
    }

    pub fn producer_epoch(&self) -> i16 {
        i16::from_be_bytes(read(self.bytes, PRODUCER_EPOCH))
    }

    pub fn base_sequence(&self) -> i32 {
        i32::from_be_bytes(read(self.bytes, BASE_SEQUENCE))
    }

    pub fn records_count(&self) -> i32 {
        i32::from_be_bytes(read(self.bytes, RECORDS_COUNT))
    }

    /// Offset of the last record: `baseOffset + lastOffsetDelta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset().saturating_add(i64::from(self.last_offset_delta()))
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The records section, compressed or not.
    pub fn records_section(&self) -> &'a [u8] {
        &self.bytes[BATCH_HEADER_LEN..]
    }

    /// CRC-32C of the bytes from `attributes` to the end, as it should be stored.
    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.bytes[ATTRIBUTES..])
    }

    /// Checks the stored CRC against the bytes.
    pub fn verify_crc(&self) -> Result<(), RecordError> {
        let (stored, computed) = (self.crc(), self.compute_crc());
        if stored == computed {
            Ok(())
        } else {
            Err(RecordError::CrcMismatch { stored, computed })
        }
    }

    /// Everything the broker checks before appending, without touching the records:
    /// CRC, a known codec, a positive record count that agrees with `lastOffsetDelta`,
    /// and (uncompressed) room for that many records.
    pub fn validate(&self) -> Result<(), RecordError> {
        self.verify_crc()?;
        let compression = self.compression()?;
        let count = self.records_count();
        let last_offset_delta = self.last_offset_delta();
        if count <= 0 || last_offset_delta != count - 1 {
            return Err(RecordError::InvalidRecordCount {
                count,
                last_offset_delta,
            });
        }
        if compression == Compression::None
            && (count as usize).saturating_mul(MIN_RECORD_LEN) > self.records_section().len()
        {
            return Err(RecordError::InvalidRecordCount {
                count,
                last_offset_delta,
            });
        }
        Ok(())
    }

    /// The uncompressed records section: borrowed when the batch is not compressed,
    /// decompressed (at most `max_decompressed_bytes`) otherwise.
    pub fn records_payload(&self, max_decompressed_bytes: usize) -> Result<Cow<'a, [u8]>, RecordError> {
        match self.compression()? {
            Compression::None => Ok(Cow::Borrowed(self.records_section())),
            codec => codec
                .decompress(self.records_section(), max_decompressed_bytes)
                .map(Cow::Owned),
        }
    }

    /// Iterates the records of an uncompressed payload (see [`BatchView::records_payload`]).
    pub fn records<'p>(&self, payload: &'p [u8]) -> RecordIter<'p> {
        RecordIter::new(payload, self.records_count())
    }
}

/// A batch borrowed for writing: the leader's in-place rewrite of the fields the CRC
/// does not cover.
#[derive(Debug)]
pub struct BatchViewMut<'a> {
    bytes: &'a mut [u8],
}

impl<'a> BatchViewMut<'a> {
    /// Views the batch at the start of `buf` for writing; see [`BatchView::new`].
    pub fn new(buf: &'a mut [u8]) -> Result<BatchViewMut<'a>, RecordError> {
        let size = BatchView::new(buf)?.size();
        Ok(BatchViewMut {
            bytes: &mut buf[..size],
        })
    }

    pub fn view(&self) -> BatchView<'_> {
        BatchView { bytes: self.bytes }
    }

    pub fn set_base_offset(&mut self, base_offset: i64) {
        self.bytes[BASE_OFFSET..BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
    }

    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        self.bytes[PARTITION_LEADER_EPOCH..PARTITION_LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
    }

    /// `message.timestamp.type=LogAppendTime`: marks the batch's timestamps as the
    /// broker's and makes `now` its max timestamp, which readers then give every record
    /// (the records' own deltas stay), and stores the CRC again since both fields are
    /// under it.
    pub fn set_log_append_time(&mut self, now: i64) {
        let attributes = self.view().attributes() | TIMESTAMP_TYPE_BIT;
        self.bytes[ATTRIBUTES..ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
        self.bytes[MAX_TIMESTAMP..MAX_TIMESTAMP + 8].copy_from_slice(&now.to_be_bytes());
        let crc = self.view().compute_crc();
        self.bytes[CRC..CRC + 4].copy_from_slice(&crc.to_be_bytes());
    }
}

/// Stamps every batch of a validated record set with the append time `now` (see
/// [`BatchViewMut::set_log_append_time`]).
pub fn set_log_append_time(record_set: &mut [u8], now: i64) -> Result<(), RecordError> {
    let mut at = 0;
    while at < record_set.len() {
        let mut batch = BatchViewMut::new(&mut record_set[at..])?;
        batch.set_log_append_time(now);
        at += batch.view().size();
    }
    Ok(())
}

/// The smallest record timestamp of a batch, which its header does not carry (the first
/// record's need not be the smallest): decodes the records, decompressing at most
/// `max_decompressed_bytes`.
pub fn min_record_timestamp(batch: &BatchView<'_>, max_decompressed_bytes: usize) -> Result<i64, RecordError> {
    let payload = batch.records_payload(max_decompressed_bytes)?;
    let mut min = i64::MAX;
    for record in batch.records(&payload) {
        min = min.min(batch.base_timestamp().saturating_add(record?.timestamp_delta));
    }
    Ok(min)
}

/// The batches of a record set, in order.
///
/// A trailing partial batch ends the iteration (a fetch response may cut the last batch
/// short); [`Batches::remainder`] then holds its bytes. A batch whose header is
/// impossible is an error, after which the iteration ends.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Batches<'a> {
    pub fn new(record_set: &'a [u8]) -> Self {
        Batches {
            rest: record_set,
            failed: false,
        }
    }

    /// Bytes not yet returned as whole batches.
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<BatchView<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let size = match batch_size_at(self.rest) {
            Ok(Some(size)) if size <= self.rest.len() => size,
            Ok(_) => return None,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        match BatchView::new(self.rest) {
            Ok(batch) => {
                self.rest = &self.rest[size..];
                Some(Ok(batch))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// What a validated record set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSetSummary {
    pub batches: usize,
    pub records: i64,
    pub bytes: usize,
    pub max_timestamp: i64,
    /// The largest batch, for `max.message.bytes`.
    pub max_batch_bytes: usize,
    /// Whether any batch carries a producer id (idempotent or transactional), so that
    /// appends of plain producers skip the sequence checks.
    pub has_producer_ids: bool,
}

/// Validates a produced record set: one or more whole batches, each passing
/// [`BatchView::validate`], and nothing after the last one.
pub fn validate_record_set(record_set: &[u8]) -> Result<RecordSetSummary, RecordError> {
    let mut summary = RecordSetSummary {
        batches: 0,
        records: 0,
        bytes: record_set.len(),
        max_timestamp: i64::MIN,
        max_batch_bytes: 0,
        has_producer_ids: false,
    };
    let mut batches = Batches::new(record_set);
    for batch in &mut batches {
        let batch = batch?;
        batch.validate()?;
        summary.batches += 1;
        summary.records += i64::from(batch.records_count());
        summary.max_timestamp = summary.max_timestamp.max(batch.max_timestamp());
        summary.max_batch_bytes = summary.max_batch_bytes.max(batch.size());
        summary.has_producer_ids |= batch.producer_id() >= 0;
    }
    match (batches.remainder().len(), summary.batches) {
        (0, 0) => Err(RecordError::Empty),
        (0, _) => Ok(summary),
        (n, _) => Err(RecordError::TrailingBytes(n)),
    }
}

/// Gives the batches of a validated record set consecutive offsets from `first_offset`
/// and stamps `leader_epoch`, in place. Returns the next offset to assign.
pub fn assign_offsets(record_set: &mut [u8], first_offset: i64, leader_epoch: i32) -> Result<i64, RecordError> {
    let mut next_offset = first_offset;
    let mut at = 0;
    while at < record_set.len() {
        let mut batch = BatchViewMut::new(&mut record_set[at..])?;
        batch.set_base_offset(next_offset);
        batch.set_partition_leader_epoch(leader_epoch);
        let view = batch.view();
        next_offset = view.next_offset();
        at += view.size();
    }
    Ok(next_offset)
}
