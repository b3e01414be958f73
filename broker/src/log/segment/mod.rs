//! One segment: `NNN.log` plus its `NNN.index` and `NNN.timeindex` (docs/architecture.md).
//!
//! The active segment is appended to with `pwritev` (see `file_write`) and read through
//! a read-only mapping with room for `segment.bytes`; its file grows by fallocate ahead
//! of the writes. Sealing trims the file to its data and drops that mapping; a sealed
//! segment is mapped on first read and unmapped again when idle, so ten thousand
//! partitions cost ten thousand active mappings, not one per segment.
//!
//! Readers never wait on the writer: they see the bytes below the published `size`
//! through the mapping and learn whether the segment is active from an atomic flag. The
//! writer's mutex is the partition writer's alone, and a flush's `fdatasync` runs on its
//! own handle to the file outside every lock, so neither a fetch nor an append waits for
//! the disk. This file holds the segment's state; [`open`] creates and recovers
//! segments, [`append`] writes, seals and flushes them, [`read`] finds and reads batches.

mod append;
mod open;
mod read;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::clock::now_ms;
use super::index::{OffsetIndex, TimeIndex};
use super::mapping::Mapping;
use super::page_warmer::WarmAhead;
use super::scan::{Indexer, NO_TIMESTAMP, last_batch};

pub(crate) use open::{delete_segment_files, scan_log_file, write_sealed_indexes};

/// Not computed yet (a sealed segment's end offset and timestamp load lazily).
const UNKNOWN: i64 = i64::MIN;

pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

pub(crate) fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.log", file_stem(base_offset)))
}

pub(crate) fn index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.index", file_stem(base_offset)))
}

pub(crate) fn time_index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.timeindex", file_stem(base_offset)))
}

/// Where the batch holding an offset is, found by [`Segment::locate`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLocation {
    pub position: usize,
    pub base_offset: i64,
}

#[derive(Debug)]
pub(crate) struct Segment {
    dir: PathBuf,
    base_offset: i64,
    /// Published length of the log: every byte below it is a whole, valid batch.
    size: AtomicUsize,
    /// The offset after the last published batch (`UNKNOWN` until loaded).
    next_offset: AtomicI64,
    /// Largest record timestamp (`UNKNOWN` until loaded, `NO_TIMESTAMP` if none).
    max_timestamp: AtomicI64,
    /// The first batch's largest timestamp (`UNKNOWN` while empty), which `segment.ms`
    /// counts from; with no timestamp, it counts from `created_ms`.
    first_batch_timestamp: AtomicI64,
    created_ms: i64,
    /// Last read or write, for unmapping idle sealed segments.
    last_used_ms: AtomicI64,
    mapping: Mutex<Option<Arc<Mapping>>>,
    /// `Some` while active; only the partition's writer locks it.
    writer: Mutex<Option<SegmentWriter>>,
    /// Whether `writer` is `Some`, for readers, who must not take the writer's lock.
    active: AtomicBool,
    /// The active file, shared with the writer (one descriptor), for `fdatasync`
    /// outside the writer's lock.
    sync_handle: Mutex<Option<Arc<File>>>,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
}

#[derive(Debug)]
struct SegmentWriter {
    file: Arc<File>,
    capacity: usize,
    allocated: u64,
    indexer: Indexer,
    warm: WarmAhead,
}

impl Segment {
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Free room in the active segment's mapping (0 when sealed). The writer's question.
    pub(crate) fn room(&self) -> usize {
        self.writer
            .lock()
            .as_ref()
            .map_or(0, |w| w.capacity.saturating_sub(self.size()))
    }

    pub(crate) fn index_is_full(&self) -> bool {
        self.offset_index.is_full() || self.time_index.is_full()
    }

    /// How long this segment has waited to roll, Kafka's way: in record time (the
    /// incoming batch's largest timestamp minus the first batch's) when the first
    /// batch has a timestamp, else in wall time since the segment was created. An
    /// empty segment never rolls by time.
    pub(crate) fn time_waited_for_roll(&self, now_ms: i64, incoming_max_timestamp: i64) -> i64 {
        match self.first_batch_timestamp.load(Ordering::Relaxed) {
            UNKNOWN => 0,
            first if first >= 0 => incoming_max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    /// The offset after this segment's last batch.
    pub(crate) fn next_offset(&self) -> io::Result<i64> {
        let cached = self.next_offset.load(Ordering::Acquire);
        if cached != UNKNOWN {
            return Ok(cached);
        }
        let from = self.offset_index.last()?.map_or(0, |e| e.position as usize);
        let next = self
            .with_bytes(|bytes| last_batch(bytes, from).map(|b| b.next_offset()))?
            .flatten()
            .unwrap_or(self.base_offset);
        self.next_offset.store(next, Ordering::Release);
        Ok(next)
    }

    /// The largest record timestamp in this segment (`NO_TIMESTAMP` if none).
    pub(crate) fn max_timestamp(&self) -> io::Result<i64> {
        let cached = self.max_timestamp.load(Ordering::Acquire);
        if cached != UNKNOWN {
            return Ok(cached);
        }
        let max = self.time_index.last()?.map_or(NO_TIMESTAMP, |e| e.timestamp);
        self.max_timestamp.store(max, Ordering::Release);
        Ok(max)
    }

    /// Drops the mappings of a sealed segment unused since `idle_since_ms`.
    pub(crate) fn unmap_if_idle(&self, idle_since_ms: i64) -> bool {
        if self.is_active() || self.last_used_ms.load(Ordering::Relaxed) > idle_since_ms {
            return false;
        }
        let was_mapped = self.mapping.lock().take().is_some() || self.offset_index.is_mapped();
        self.offset_index.unmap_if_sealed();
        self.time_index.unmap_if_sealed();
        was_mapped
    }

    fn touch(&self) {
        self.last_used_ms.store(now_ms(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use brook_protocol::records::{BatchBuilder, Compression};

    use super::*;
    use crate::log::config::LogConfig;

    fn batch(records: usize) -> Vec<u8> {
        let mut builder = BatchBuilder::new(Compression::None);
        for i in 0..records {
            builder.append(i as i64, None, Some(b"value"), &[]);
        }
        builder.finish().unwrap().to_vec()
    }

    /// Runs `f` on another thread while this one holds the segment writer's lock (as an
    /// append in progress does); fails if `f` waits for it.
    fn while_the_writer_is_locked<T: Send>(segment: &Segment, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            let writing = segment.writer.lock();
            let (done, finished) = std::sync::mpsc::channel();
            let worker = scope.spawn(move || {
                let value = f();
                let _ = done.send(());
                value
            });
            let waited = finished.recv_timeout(Duration::from_secs(5)).is_err();
            // Let a blocked worker go before failing, or the scope would wait for it forever.
            drop(writing);
            let value = worker.join().unwrap();
            assert!(!waited, "it waited for the writer's lock");
            value
        })
    }

    #[test]
    fn reads_and_flushes_of_the_active_segment_never_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig::default();
        let segment = Segment::create(dir.path(), 0, 1 << 20, &config).unwrap();
        segment.append(&batch(3), Some((0, 0))).unwrap();
        let (read, active, flushed) = while_the_writer_is_locked(&segment, || {
            let read = segment.read(0, 1 << 20, i64::MAX, true).unwrap();
            (read, segment.is_active(), segment.flush())
        });
        let (bytes, next) = read.expect("the appended batch");
        assert_eq!((bytes.len(), next), (segment.size(), 3));
        assert!(active);
        flushed.unwrap();
    }

    #[test]
    fn a_sealed_segment_says_so_without_the_writer_and_still_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig::default();
        let segment = Segment::create(dir.path(), 0, 1 << 20, &config).unwrap();
        segment.append(&batch(2), Some((0, 0))).unwrap();
        segment.seal().unwrap();
        assert!(!segment.is_active());
        assert!(
            segment.sync_handle.lock().is_none(),
            "the sealed file's handle is kept open"
        );
        segment.flush().unwrap();
        let (bytes, next) = segment.read(0, 1 << 20, i64::MAX, true).unwrap().unwrap();
        assert_eq!((bytes.len(), next), (segment.size(), 2));
    }

    /// With the page warmer on, appends, reads, sealing (which trims the file while the
    /// warmer may still read past its end) and a reopen see exactly the bytes written.
    #[test]
    fn warmed_appends_read_back_and_reopen_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            warm_ahead_bytes: 256 * 1024,
            ..LogConfig::default()
        };
        let segment = Segment::create(dir.path(), 0, 8 << 20, &config).unwrap();
        let mut written = Vec::new();
        let mut next = 0;
        for _ in 0..200 {
            let batch = batch(100);
            next = segment.append(&batch, Some((next, 0))).unwrap();
            written.extend_from_slice(&batch);
        }
        assert_eq!(next, 20_000);
        let (bytes, _) = segment.read(0, 64 << 20, i64::MAX, true).unwrap().unwrap();
        assert_eq!(bytes.len(), written.len());
        segment.seal().unwrap();
        drop(segment);
        let file = std::fs::read(log_path(dir.path(), 0)).unwrap();
        assert_eq!(file.len(), written.len(), "sealed at its size");
        let reopened = Segment::open_sealed(dir.path(), 0, &config).unwrap();
        assert_eq!(reopened.next_offset().unwrap(), 20_000);
    }
}
