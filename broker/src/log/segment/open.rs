//! Making segments: a new active one, a sealed one found on disk, and the last one of a
//! log reopened for appending after a clean or an unclean stop.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use brook_protocol::records::{BatchView, Batches};
use parking_lot::Mutex;

use super::{Segment, SegmentWriter, UNKNOWN, WarmAhead, index_path, log_path, time_index_path};
use crate::log::clock::now_ms;
use crate::log::config::LogConfig;
use crate::log::index::{IndexFile, OffsetIndex, TimeIndex};
use crate::log::mapping::{Mapping, sync_dir};
use crate::log::scan::{Indexer, NO_TIMESTAMP, Scan, SealedIndexEntries, scan_segment};

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
            config.warm_ahead_bytes,
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
            active: AtomicBool::new(false),
            sync_handle: Mutex::new(None),
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
            config.warm_ahead_bytes,
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
                Self::active(
                    dir,
                    base_offset,
                    file,
                    size,
                    next_offset,
                    indexer,
                    indexes,
                    capacity,
                    config.warm_ahead_bytes,
                )
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
        warm_ahead: u64,
    ) -> io::Result<Segment> {
        let capacity = capacity.max(size).max(1);
        // Read-only: appends go through the file (see `file_write`), readers through this.
        let mapping = Mapping::read_only(&file, capacity)?;
        let allocated = file.metadata()?.len();
        let file = Arc::new(file);
        let sync_handle = Mutex::new(Some(Arc::clone(&file)));
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
                warm: WarmAhead::new(warm_ahead, size as u64),
            })),
            active: AtomicBool::new(true),
            sync_handle,
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
