//! One segment: `NNN.log` plus its `NNN.index` and `NNN.timeindex` (docs/architecture.md).
//!
//! The active segment is appended to with `pwritev` (see `file_write`) and read through
//! a read-only mapping with room for `segment.bytes`; its file grows by fallocate ahead
//! of the writes. Sealing trims the file to its data and drops that mapping; a sealed
//! segment is mapped on first read and unmapped again when idle, so ten thousand
//! partitions cost ten thousand active mappings, not one per segment.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use brook_protocol::records::{BatchView, Batches, TimestampType};
use bytes::Bytes;
use parking_lot::Mutex;

use super::clock::now_ms;
use super::config::LogConfig;
use super::file_write::write_record_set;
use super::index::{IndexFile, OffsetIndex, TimeIndex};
use super::mapping::{Mapping, grow_file, sync_dir};
use super::scan::{Indexer, NO_TIMESTAMP, Scan, SealedIndexEntries, find_batch, last_batch, scan_segment};

/// Largest step by which an active log file grows at a time.
const MAX_GROWTH: u64 = 16 * 1024 * 1024;

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
    offset_index: OffsetIndex,
    time_index: TimeIndex,
}

#[derive(Debug)]
struct SegmentWriter {
    file: File,
    capacity: usize,
    allocated: u64,
    indexer: Indexer,
}

impl Segment {
    /// Creates an empty active segment whose mapping has room for `capacity` bytes.
    pub(crate) fn create(dir: &Path, base_offset: i64, capacity: usize, config: &LogConfig) -> io::Result<Segment> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(log_path(dir, base_offset))?;
        let (offset_index, time_index) = create_indexes(dir, base_offset, config)?;
        sync_dir(dir)?;
        let indexer = Indexer::new(base_offset, config.index_interval_bytes);
        Self::active(
            dir,
            base_offset,
            file,
            0,
            base_offset,
            indexer,
            (offset_index, time_index),
            capacity,
        )
    }

    /// A sealed segment as found on disk, mapped lazily. Its file was trimmed when it
    /// was sealed, so its length is its size. Missing or damaged indexes are rebuilt.
    pub(crate) fn open_sealed(dir: &Path, base_offset: i64, config: &LogConfig) -> io::Result<Segment> {
        let size = std::fs::metadata(log_path(dir, base_offset))?.len() as usize;
        let indexes = IndexFile::sealed(&index_path(dir, base_offset))
            .and_then(|offsets| Ok((offsets, IndexFile::sealed(&time_index_path(dir, base_offset))?)))
            .ok()
            .filter(|(offsets, times)| indexes_look_sane(offsets, times, size));
        let (offset_index, time_index) = match indexes {
            Some(indexes) => indexes,
            None => {
                let (scan, _) = scan_log_file(dir, base_offset, i64::MAX, config, false)?;
                tracing::info!(segment = %log_path(dir, base_offset).display(), "rebuilding missing or damaged indexes");
                write_sealed_indexes(dir, base_offset, scan.into_sealed_entries())?
            }
        };
        let segment = Segment {
            dir: dir.to_path_buf(),
            base_offset,
            size: AtomicUsize::new(size),
            next_offset: AtomicI64::new(UNKNOWN),
            max_timestamp: AtomicI64::new(UNKNOWN),
            first_batch_timestamp: AtomicI64::new(UNKNOWN),
            created_ms: now_ms(),
            last_used_ms: AtomicI64::new(now_ms()),
            mapping: Mutex::new(None),
            writer: Mutex::new(None),
            offset_index,
            time_index,
        };
        Ok(segment)
    }

    /// Opens the last segment for appending after a recovery `scan` of its file (an
    /// unclean stop): the file is cut to the valid bytes and the indexes are written
    /// afresh from the scan. Nothing is fsync'd: the active segment is above the
    /// recovery point, so a crash before the next flush repeats this recovery.
    pub(crate) fn open_active_recovered(
        dir: &Path,
        base_offset: i64,
        scan: Scan,
        config: &LogConfig,
    ) -> io::Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = File::options().read(true).write(true).open(&path)?;
        file.set_len(scan.valid_bytes as u64)?;
        let (offset_index, time_index) = create_indexes(dir, base_offset, config)?;
        for entry in &scan.offset_entries {
            offset_index.append(*entry)?;
        }
        for entry in &scan.time_entries {
            time_index.append(*entry)?;
        }
        let capacity = (config.segment_bytes as usize).max(scan.valid_bytes);
        let indexes = (offset_index, time_index);
        Self::active(
            dir,
            base_offset,
            file,
            scan.valid_bytes,
            scan.next_offset,
            scan.indexer,
            indexes,
            capacity,
        )
    }

    /// Opens the last segment for appending after a clean shutdown: the file and its
    /// indexes were trimmed, so only the batches after the last index entry are read.
    /// Indexes that do not match the log are rebuilt from it.
    pub(crate) fn open_active_clean(dir: &Path, base_offset: i64, config: &LogConfig) -> io::Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = File::options().read(true).write(true).open(&path)?;
        let size = file.metadata()?.len() as usize;
        if size == 0 {
            return Self::open_active_recovered(
                dir,
                base_offset,
                scan_segment(&[], base_offset, i64::MAX, config.index_interval_bytes, false),
                config,
            );
        }
        let mapping = Mapping::read_only(&file, size)?;
        // SAFETY: the whole file is data, and nobody writes it while it is being opened.
        let bytes = unsafe { mapping.slice(0, size) };
        let max_index_bytes = u64::from(config.segment_index_bytes);
        let indexes = OffsetIndex::reopen_active(&index_path(dir, base_offset), max_index_bytes).and_then(|offsets| {
            Ok((
                offsets,
                IndexFile::reopen_active(&time_index_path(dir, base_offset), max_index_bytes)?,
            ))
        });
        let resumed = indexes.ok().and_then(|(offset_index, time_index)| {
            let last = offset_index.last().ok()?;
            let from = last.map_or(0, |e| e.position as usize);
            if let Some(last) = last {
                let batch = BatchView::new(bytes.get(from..)?).ok()?;
                if batch.last_offset() != base_offset + i64::from(last.relative_offset) {
                    return None;
                }
            }
            // Re-account the batches from the last entry on, so that the next entry
            // lands where it would have without the restart.
            let mut indexer = Indexer::resume(base_offset, config.index_interval_bytes, time_index.last().ok()?);
            let mut position = from;
            let mut next_offset = base_offset;
            for batch in Batches::new(&bytes[from..]) {
                let batch = batch.ok()?;
                indexer.on_batch(position, batch.size(), batch.last_offset(), batch.max_timestamp());
                position += batch.size();
                next_offset = batch.next_offset();
            }
            (position == size).then_some((offset_index, time_index, indexer, next_offset))
        });
        match resumed {
            Some((offset_index, time_index, indexer, next_offset)) => {
                drop(mapping);
                let capacity = (config.segment_bytes as usize).max(size);
                let indexes = (offset_index, time_index);
                Self::active(dir, base_offset, file, size, next_offset, indexer, indexes, capacity)
            }
            None => {
                let scan = scan_segment(bytes, base_offset, i64::MAX, config.index_interval_bytes, true);
                drop(mapping);
                Self::open_active_recovered(dir, base_offset, scan, config)
            }
        }
    }

    /// An active segment over `file`, whose first `size` bytes hold batches up to
    /// `next_offset`, mapped with room for `capacity` bytes.
    #[allow(clippy::too_many_arguments)]
    fn active(
        dir: &Path,
        base_offset: i64,
        file: File,
        size: usize,
        next_offset: i64,
        indexer: Indexer,
        (offset_index, time_index): (OffsetIndex, TimeIndex),
        capacity: usize,
    ) -> io::Result<Segment> {
        let capacity = capacity.max(size).max(1);
        // Read-only: appends go through the file (see `file_write`), readers through this.
        let mapping = Mapping::read_only(&file, capacity)?;
        let allocated = file.metadata()?.len();
        let segment = Segment {
            dir: dir.to_path_buf(),
            base_offset,
            size: AtomicUsize::new(size),
            next_offset: AtomicI64::new(next_offset),
            max_timestamp: AtomicI64::new(indexer.max_timestamp),
            first_batch_timestamp: AtomicI64::new(UNKNOWN),
            created_ms: now_ms(),
            last_used_ms: AtomicI64::new(now_ms()),
            mapping: Mutex::new(Some(mapping)),
            writer: Mutex::new(Some(SegmentWriter {
                file,
                capacity,
                allocated,
                indexer,
            })),
            offset_index,
            time_index,
        };
        if size > 0 {
            let first = segment.with_bytes(|bytes| BatchView::new(bytes).map(|b| b.max_timestamp()).ok())?;
            segment
                .first_batch_timestamp
                .store(first.flatten().unwrap_or(NO_TIMESTAMP), Ordering::Relaxed);
        }
        Ok(segment)
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn is_active(&self) -> bool {
        self.writer.lock().is_some()
    }

    /// Free room in the active segment's mapping (0 when sealed).
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

    /// Writes a validated record set at the end of this active segment, giving its
    /// batches their offsets (when `assign` is `Some((first_offset, leader_epoch))`),
    /// indexes it, and publishes it. Returns the next offset. The caller is the partition's single writer and
    /// has checked that it fits ([`Segment::room`]).
    pub(crate) fn append(&self, records: &[u8], assign: Option<(i64, i32)>) -> io::Result<i64> {
        let mut writer = self.writer.lock();
        let writer = writer
            .as_mut()
            .ok_or_else(|| io::Error::other("append to a sealed segment"))?;
        let start = self.size();
        let end = start + records.len();
        if end > writer.capacity {
            return Err(io::Error::other("append beyond the segment's mapping"));
        }
        if end as u64 > writer.allocated {
            writer.allocated = grow_file(
                &writer.file,
                writer.allocated,
                end as u64,
                writer.capacity as u64,
                MAX_GROWTH,
            )?;
        }
        write_record_set(&writer.file, start as u64, records, assign)?;

        // Index what was written (offsets as assigned, when assigned).
        let mut next_offset = assign.map_or(UNKNOWN, |(first, _)| first);
        let mut position = start;
        for batch in Batches::new(records) {
            let batch = batch.map_err(io::Error::other)?;
            let last_offset = match assign {
                Some(_) => next_offset + i64::from(batch.last_offset_delta()),
                None => batch.last_offset(),
            };
            let update = writer
                .indexer
                .on_batch(position, batch.size(), last_offset, batch.max_timestamp());
            if let Some(entry) = update.offset {
                self.offset_index.append(entry)?;
            }
            if let Some(entry) = update.time {
                self.time_index.append(entry)?;
            }
            next_offset = last_offset + 1;
            position += batch.size();
        }
        if self.first_batch_timestamp.load(Ordering::Relaxed) == UNKNOWN {
            let first = BatchView::new(records)
                .map(|b| b.max_timestamp())
                .unwrap_or(NO_TIMESTAMP);
            self.first_batch_timestamp.store(first, Ordering::Relaxed);
        }
        self.max_timestamp
            .store(writer.indexer.max_timestamp, Ordering::Release);
        self.next_offset.store(next_offset, Ordering::Release);
        // Publish last: a reader that sees the new size sees every byte below it.
        self.size.store(end, Ordering::Release);
        self.touch();
        Ok(next_offset)
    }

    /// Where the batch holding `offset` (or the first batch after it) starts.
    pub(crate) fn locate(&self, offset: i64) -> io::Result<Option<BatchLocation>> {
        Ok(self
            .with_bytes(|bytes| self.locate_in(bytes, offset))?
            .transpose()?
            .flatten())
    }

    /// [`Segment::locate`] over bytes the caller already mapped.
    fn locate_in(&self, bytes: &[u8], offset: i64) -> io::Result<Option<BatchLocation>> {
        let relative = (offset - self.base_offset).clamp(0, i64::from(u32::MAX));
        let from = self.offset_index.floor(relative)?.map_or(0, |e| e.position as usize);
        Ok(find_batch(bytes, from, offset).map(|(position, batch)| BatchLocation {
            position,
            base_offset: batch.base_offset(),
        }))
    }

    /// Whole batches starting with the one holding `offset`, up to `max_bytes` (but at
    /// least one batch if `min_one`, KIP-74), none reaching `upper_bound` (an
    /// exclusive offset), and the offset after them. The bytes borrow the mapping:
    /// nothing is copied.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
        min_one: bool,
    ) -> io::Result<Option<(Bytes, i64)>> {
        let Some((mapping, size)) = self.mapped()? else {
            return Ok(None);
        };
        // SAFETY: below the published size.
        let bytes = unsafe { mapping.slice(0, size) };
        let Some(location) = self.locate_in(bytes, offset)? else {
            return Ok(None);
        };
        let mut end = location.position;
        let mut next_offset = location.base_offset;
        for batch in Batches::new(&bytes[location.position..]).map_while(Result::ok) {
            let fits = end + batch.size() - location.position <= max_bytes || (min_one && end == location.position);
            if batch.next_offset() > upper_bound || !fits {
                break;
            }
            end += batch.size();
            next_offset = batch.next_offset();
        }
        if end == location.position {
            return Ok(None);
        }
        if !self.is_active() {
            mapping.will_need(location.position, end);
        }
        // SAFETY: below the published size.
        Ok(Some((unsafe { mapping.bytes(location.position, end) }, next_offset)))
    }

    /// The first record at or after `timestamp`: (offset, timestamp).
    pub(crate) fn find_by_timestamp(&self, timestamp: i64, max_decompressed: usize) -> io::Result<Option<(i64, i64)>> {
        if self.max_timestamp()? < timestamp {
            return Ok(None);
        }
        let start = self
            .time_index
            .floor(timestamp)?
            .map_or(self.base_offset, |e| self.base_offset + i64::from(e.relative_offset));
        let found = self.with_bytes(|bytes| {
            let location = self.locate_in(bytes, start).ok()??;
            for batch in Batches::new(&bytes[location.position..]).map_while(Result::ok) {
                if batch.max_timestamp() < timestamp {
                    continue;
                }
                if batch.timestamp_type() == TimestampType::LogAppendTime {
                    return Some((batch.base_offset(), batch.max_timestamp()));
                }
                let payload = batch.records_payload(max_decompressed).ok()?;
                for record in batch.records(&payload).map_while(Result::ok) {
                    let record_timestamp = batch.base_timestamp() + record.timestamp_delta;
                    if record_timestamp >= timestamp {
                        return Some((batch.base_offset() + i64::from(record.offset_delta), record_timestamp));
                    }
                }
            }
            None
        })?;
        Ok(found.flatten())
    }

    /// Cuts this segment before the batch holding `offset`: what was above is no
    /// longer part of it. Bytes are not rewritten (readers may hold them); the file
    /// is trimmed now if nobody does, else at close or by recovery (the next segment's
    /// base bounds it). Returns the new next offset.
    pub(crate) fn cut(&self, location: BatchLocation, config: &LogConfig) -> io::Result<i64> {
        self.seal_writer()?;
        self.size.fetch_min(location.position, Ordering::AcqRel);
        self.next_offset.store(location.base_offset, Ordering::Release);
        self.rebuild_indexes(config)?;
        self.try_trim()?;
        Ok(location.base_offset)
    }

    /// Seals the active segment on roll: final time entry, file and indexes trimmed to
    /// their data, writable mapping dropped (the next read maps it read-only). No
    /// fsync here, on the append path: the flusher makes it durable.
    pub(crate) fn seal(&self) -> io::Result<()> {
        self.finish_writer(true, false)
    }

    /// Closes for a clean shutdown: like [`Segment::seal`] but durable and without a
    /// final time entry (a clean open resumes appending here). Returns whether the
    /// file now ends at its data.
    pub(crate) fn close(&self) -> io::Result<bool> {
        if self.is_active() {
            self.finish_writer(false, true)?;
            return Ok(true);
        }
        self.try_trim()
    }

    fn finish_writer(&self, final_time_entry: bool, durable: bool) -> io::Result<()> {
        let Some(mut writer) = self.writer.lock().take() else {
            return Ok(());
        };
        if final_time_entry && let Some(entry) = writer.indexer.final_time_entry() {
            // May take the slot `IndexFile::is_full` keeps spare.
            self.time_index.append(entry)?;
        }
        // Shrinking is safe with readers mapped: none reads past the published size.
        writer.file.set_len(self.size() as u64)?;
        if durable {
            writer.file.sync_all()?;
        }
        self.offset_index.seal(durable)?;
        self.time_index.seal(durable)?;
        *self.mapping.lock() = None;
        Ok(())
    }

    /// Stops appends to a segment cut by a truncation; its indexes are rewritten.
    fn seal_writer(&self) -> io::Result<()> {
        if self.writer.lock().take().is_some() {
            self.offset_index.seal(false)?;
            self.time_index.seal(false)?;
        }
        Ok(())
    }

    /// Makes the data durable: fdatasync of the log (appends are buffered writes, so
    /// there is no mapping to msync). A sealed segment's indexes are synced too; the
    /// active segment's are not needed, as recovery always rebuilds them (it rescans
    /// the active segment after an unclean stop).
    pub(crate) fn flush(&self) -> io::Result<()> {
        if let Some(writer) = &*self.writer.lock() {
            return writer.file.sync_data();
        }
        File::open(log_path(&self.dir, self.base_offset))?.sync_data()?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Trims the file to the published size if it is longer and no reader holds the
    /// mapping. Returns whether the file now ends at the data.
    pub(crate) fn try_trim(&self) -> io::Result<bool> {
        if self.is_active() {
            return Ok(false);
        }
        let mut slot = self.mapping.lock();
        if slot.as_ref().is_some_and(|m| Arc::strong_count(m) > 1) {
            return Ok(false);
        }
        let path = log_path(&self.dir, self.base_offset);
        let file = File::options().write(true).open(&path)?;
        if file.metadata()?.len() > self.size() as u64 {
            // The slot's mapping is ours alone (checked above, under its lock); drop it
            // before the file shrinks under it.
            *slot = None;
            file.set_len(self.size() as u64)?;
            file.sync_all()?;
        }
        Ok(true)
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

    /// Removes the files (readers' mappings stay valid until dropped).
    pub(crate) fn delete_files(&self) -> io::Result<()> {
        self.writer.lock().take();
        delete_segment_files(&self.dir, self.base_offset)
    }

    /// Rewrites both indexes from the log (sealed form), in place of the current ones.
    fn rebuild_indexes(&self, config: &LogConfig) -> io::Result<()> {
        let interval = config.index_interval_bytes;
        let scan = self
            .with_bytes(|bytes| scan_segment(bytes, self.base_offset, i64::MAX, interval, false))?
            .unwrap_or_else(|| scan_segment(&[], self.base_offset, i64::MAX, interval, false));
        let entries = scan.into_sealed_entries();
        self.offset_index.replace_sealed(&entries.offsets)?;
        self.time_index.replace_sealed(&entries.times)?;
        self.max_timestamp.store(entries.max_timestamp, Ordering::Release);
        Ok(())
    }

    /// The published bytes, mapping a sealed segment on first use (`None` if empty).
    fn mapped(&self) -> io::Result<Option<(Arc<Mapping>, usize)>> {
        self.touch();
        let mut slot = self.mapping.lock();
        let size = self.size();
        if size == 0 {
            return Ok(None);
        }
        if let Some(mapping) = &*slot {
            return Ok(Some((Arc::clone(mapping), size)));
        }
        let file = File::open(log_path(&self.dir, self.base_offset))?;
        let mapping = Mapping::read_only(&file, size)?;
        *slot = Some(Arc::clone(&mapping));
        Ok(Some((mapping, size)))
    }

    /// Runs `f` over the published bytes (`None` if the segment is empty).
    fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> io::Result<Option<T>> {
        Ok(self.mapped()?.map(|(mapping, size)| {
            // SAFETY: below the published size.
            f(unsafe { mapping.slice(0, size) })
        }))
    }

    fn touch(&self) {
        self.last_used_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Scans a segment file up to `bound` through a temporary read-only mapping (for
/// recovery, `verify_crc`; for index rebuilds of trusted data, not). Returns the scan
/// and the file length.
pub(crate) fn scan_log_file(
    dir: &Path,
    base_offset: i64,
    bound: i64,
    config: &LogConfig,
    verify_crc: bool,
) -> io::Result<(Scan, u64)> {
    let interval = config.index_interval_bytes;
    let file = File::open(log_path(dir, base_offset))?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok((scan_segment(&[], base_offset, bound, interval, verify_crc), 0));
    }
    let mapping = Mapping::read_only(&file, len as usize)?;
    mapping.will_need(0, len as usize);
    // SAFETY: nobody writes this file while the partition is being opened.
    let bytes = unsafe { mapping.slice(0, len as usize) };
    Ok((scan_segment(bytes, base_offset, bound, interval, verify_crc), len))
}

/// Writes a sealed segment's index files from a scan's entries.
pub(crate) fn write_sealed_indexes(
    dir: &Path,
    base_offset: i64,
    entries: SealedIndexEntries,
) -> io::Result<(OffsetIndex, TimeIndex)> {
    Ok((
        IndexFile::write_sealed(&index_path(dir, base_offset), &entries.offsets)?,
        IndexFile::write_sealed(&time_index_path(dir, base_offset), &entries.times)?,
    ))
}

/// Creates the empty, writable indexes of a new or recovered active segment.
fn create_indexes(dir: &Path, base_offset: i64, config: &LogConfig) -> io::Result<(OffsetIndex, TimeIndex)> {
    let max_index_bytes = u64::from(config.segment_index_bytes);
    Ok((
        IndexFile::create(&index_path(dir, base_offset), max_index_bytes)?,
        IndexFile::create(&time_index_path(dir, base_offset), max_index_bytes)?,
    ))
}

/// Removes a segment's three files; missing ones are fine.
pub(crate) fn delete_segment_files(dir: &Path, base_offset: i64) -> io::Result<()> {
    for path in [
        log_path(dir, base_offset),
        index_path(dir, base_offset),
        time_index_path(dir, base_offset),
    ] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Whether sealed indexes can be trusted for a log of `size` bytes: entries strictly
/// increasing and inside the log. Cheap: a full 1 GiB segment has about 2 MiB of index.
fn indexes_look_sane(offsets: &OffsetIndex, times: &TimeIndex, size: usize) -> bool {
    let offsets_ok = offsets.entries().is_ok_and(|entries| {
        entries
            .windows(2)
            .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position)
            && entries.last().is_none_or(|e| (e.position as usize) < size)
    });
    let times_ok = times
        .entries()
        .is_ok_and(|entries| entries.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    offsets_ok && times_ok
}
