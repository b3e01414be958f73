//! Walking the batches of a segment's bytes: the one place that decides where index
//! entries go (so appends, recovery and index rebuilds agree), and the recovery scan.

use brook_protocol::records::{BatchView, Batches, RecordError};

use super::index::{OffsetEntry, TimeEntry};

/// Decides the sparse index entries as batches are appended, Kafka's way: an offset
/// entry (and, if the segment's largest timestamp grew, a time entry) for the first
/// batch that starts more than `index.interval.bytes` after the previous entry.
#[derive(Debug, Clone)]
pub(crate) struct Indexer {
    base_offset: i64,
    interval: u64,
    bytes_since_entry: u64,
    /// Largest timestamp so far, and the last offset of the batch that carried it.
    pub(crate) max_timestamp: i64,
    pub(crate) offset_of_max_timestamp: i64,
    last_time_entry: i64,
}

/// What one batch adds to the indexes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct IndexUpdate {
    pub offset: Option<OffsetEntry>,
    pub time: Option<TimeEntry>,
}

/// No timestamp yet (Kafka's `RecordBatch.NO_TIMESTAMP`).
pub(crate) const NO_TIMESTAMP: i64 = -1;

impl Indexer {
    pub(crate) fn new(base_offset: i64, interval: u32) -> Self {
        Indexer {
            base_offset,
            interval: u64::from(interval),
            bytes_since_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            last_time_entry: NO_TIMESTAMP,
        }
    }

    /// Resumes after a clean shutdown. Feeding it the batches from the last offset
    /// entry's position on brings it to the state it had before the restart.
    pub(crate) fn resume(base_offset: i64, interval: u32, last_time_entry: Option<TimeEntry>) -> Self {
        let mut indexer = Indexer::new(base_offset, interval);
        if let Some(entry) = last_time_entry {
            indexer.last_time_entry = entry.timestamp;
            indexer.max_timestamp = entry.timestamp;
            indexer.offset_of_max_timestamp = base_offset + i64::from(entry.relative_offset);
        }
        indexer
    }

    /// Accounts for the batch of `size` bytes at `position` ending at `last_offset`;
    /// returns the entries to append.
    pub(crate) fn on_batch(
        &mut self,
        position: usize,
        size: usize,
        last_offset: i64,
        max_timestamp: i64,
    ) -> IndexUpdate {
        if max_timestamp > self.max_timestamp {
            self.max_timestamp = max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        let mut update = IndexUpdate::default();
        if self.bytes_since_entry > self.interval {
            update.offset = Some(OffsetEntry {
                relative_offset: self.relative(last_offset),
                position: position as u32,
            });
            update.time = self.time_entry();
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += size as u64;
        update
    }

    /// The final time entry a segment gets when it is sealed, so that its last time
    /// entry is its largest timestamp.
    pub(crate) fn final_time_entry(&mut self) -> Option<TimeEntry> {
        self.time_entry()
    }

    fn time_entry(&mut self) -> Option<TimeEntry> {
        (self.max_timestamp > self.last_time_entry).then(|| {
            self.last_time_entry = self.max_timestamp;
            TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative(self.offset_of_max_timestamp),
            }
        })
    }

    fn relative(&self, offset: i64) -> u32 {
        debug_assert!(offset >= self.base_offset && offset - self.base_offset <= i64::from(i32::MAX));
        (offset - self.base_offset) as u32
    }
}

/// Why a scan stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanStop {
    /// Every byte was a whole, valid batch.
    End,
    /// The next batch starts at or beyond `bound` (the next segment's base offset):
    /// bytes left over from a truncation, not damage.
    Bound,
    /// A torn, zeroed or corrupt batch.
    Corrupt(RecordError),
    /// A batch whose offsets go backwards or leave the segment's range.
    BadOffsets { base_offset: i64, expected_at_least: i64 },
}

/// Result of [`scan_segment`].
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// Bytes of whole valid batches from the start.
    pub valid_bytes: usize,
    pub next_offset: i64,
    pub batches: usize,
    pub offset_entries: Vec<OffsetEntry>,
    pub time_entries: Vec<TimeEntry>,
    /// (leader epoch, first offset) where the batches' epoch rises.
    pub epoch_starts: Vec<(i32, i64)>,
    pub indexer: Indexer,
    pub stop: ScanStop,
}

/// The index entries a sealed segment gets from a scan of its log.
pub(crate) struct SealedIndexEntries {
    pub offsets: Vec<OffsetEntry>,
    /// Ends with the segment's largest timestamp (the entry sealing adds).
    pub times: Vec<TimeEntry>,
    pub max_timestamp: i64,
}

impl Scan {
    /// The entries of the scanned bytes as a sealed segment holds them.
    pub(crate) fn into_sealed_entries(self) -> SealedIndexEntries {
        let mut indexer = self.indexer;
        let mut times = self.time_entries;
        times.extend(indexer.final_time_entry());
        SealedIndexEntries {
            offsets: self.offset_entries,
            times,
            max_timestamp: indexer.max_timestamp,
        }
    }
}

/// Walks a segment's bytes from the start, checking every batch (length, magic, CRC,
/// counts, offsets increasing and below `bound`) and building its index entries.
/// `verify_crc` is off only where the bytes were already verified (index rebuilds).
pub(crate) fn scan_segment(bytes: &[u8], base_offset: i64, bound: i64, interval: u32, verify_crc: bool) -> Scan {
    let mut scan = Scan {
        valid_bytes: 0,
        next_offset: base_offset,
        batches: 0,
        offset_entries: Vec::new(),
        time_entries: Vec::new(),
        epoch_starts: Vec::new(),
        indexer: Indexer::new(base_offset, interval),
        stop: ScanStop::End,
    };
    let mut batches = Batches::new(bytes);
    loop {
        let batch = match batches.next() {
            None if batches.remainder().is_empty() => break,
            None => {
                let available = batches.remainder().len();
                scan.stop = ScanStop::Corrupt(RecordError::Truncated {
                    what: "batch",
                    needed: available + 1,
                    available,
                });
                break;
            }
            Some(Err(e)) => {
                scan.stop = ScanStop::Corrupt(e);
                break;
            }
            Some(Ok(batch)) => batch,
        };
        if batch.base_offset() >= bound {
            scan.stop = ScanStop::Bound;
            break;
        }
        if batch.base_offset() < scan.next_offset || batch.last_offset() - base_offset > i64::from(i32::MAX) {
            scan.stop = ScanStop::BadOffsets {
                base_offset: batch.base_offset(),
                expected_at_least: scan.next_offset,
            };
            break;
        }
        if verify_crc && let Err(e) = batch.validate() {
            scan.stop = ScanStop::Corrupt(e);
            break;
        }
        let epoch = batch.partition_leader_epoch();
        if scan.epoch_starts.last().is_none_or(|&(e, _)| epoch > e) {
            scan.epoch_starts.push((epoch, batch.base_offset()));
        }
        let update = scan.indexer.on_batch(
            scan.valid_bytes,
            batch.size(),
            batch.last_offset(),
            batch.max_timestamp(),
        );
        scan.offset_entries.extend(update.offset);
        scan.time_entries.extend(update.time);
        scan.valid_bytes += batch.size();
        scan.next_offset = batch.next_offset();
        scan.batches += 1;
    }
    scan
}

/// The position of the first batch at or after `from` whose last offset is at least
/// `offset`, scanning headers only (the bytes are trusted).
pub(crate) fn find_batch(bytes: &[u8], from: usize, offset: i64) -> Option<(usize, BatchView<'_>)> {
    let mut position = from;
    for batch in Batches::new(bytes.get(from..)?) {
        let batch = batch.ok()?;
        if batch.last_offset() >= offset {
            return Some((position, batch));
        }
        position += batch.size();
    }
    None
}

/// The last batch at or after `from`, if any.
pub(crate) fn last_batch(bytes: &[u8], from: usize) -> Option<BatchView<'_>> {
    Batches::new(bytes.get(from..)?).map_while(Result::ok).last()
}
