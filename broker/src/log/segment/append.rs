//! Writing a segment: appends by the partition's single writer, cuts by truncation,
//! sealing on roll, closing on shutdown, flushing and trimming.

use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use brook_protocol::records::{BatchView, Batches};

use super::{BatchLocation, Segment, SegmentWriter, UNKNOWN, delete_segment_files, log_path};
use crate::log::config::LogConfig;
use crate::log::file_write::write_record_set;
use crate::log::mapping::grow_file;
use crate::log::scan::{NO_TIMESTAMP, scan_segment};

/// Largest step by which an active log file grows at a time.
const MAX_GROWTH: u64 = 16 * 1024 * 1024;

impl Segment {
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
        writer.warm.after_write(&writer.file, end as u64, writer.allocated);

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

    /// Closes for a clean shutdown: like [`Segment::seal`] but without a final time
    /// entry (a clean open resumes appending here), and synced if `durable` (else the
    /// caller syncs the file system). Returns whether the file now ends at its data.
    pub(crate) fn close(&self, durable: bool) -> io::Result<bool> {
        if self.is_active() {
            self.finish_writer(false, durable)?;
            return Ok(true);
        }
        self.try_trim()
    }

    fn finish_writer(&self, final_time_entry: bool, durable: bool) -> io::Result<()> {
        let Some(mut writer) = self.take_writer() else {
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
        if self.take_writer().is_some() {
            self.offset_index.seal(false)?;
            self.time_index.seal(false)?;
        }
        Ok(())
    }

    /// Makes the data durable: fdatasync of the log (appends are buffered writes, so
    /// there is no mapping to msync). A sealed segment's indexes are synced too; the
    /// active segment's are not needed, as recovery always rebuilds them (it rescans
    /// the active segment after an unclean stop). Holds no lock while the disk works:
    /// everything published before the call is durable after it; appends go on beside.
    pub(crate) fn flush(&self) -> io::Result<()> {
        let active = self.sync_handle.lock().clone();
        if let Some(file) = active {
            return file.sync_data();
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

    /// Removes the files (readers' mappings stay valid until dropped).
    pub(crate) fn delete_files(&self) -> io::Result<()> {
        self.take_writer();
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

    /// Ends appending: readers see the segment sealed from here on.
    fn take_writer(&self) -> Option<SegmentWriter> {
        let writer = self.writer.lock().take();
        self.active.store(false, Ordering::Release);
        self.sync_handle.lock().take();
        writer
    }
}
