//! One partition's log: ordered segments, offsets, leader epochs, flushing, retention.
//!
//! Concurrency: appends, rolls, truncations and retention are serialized by the
//! `writer` lock. Reads take no lock but the short read lock on the segment map (to
//! clone an `Arc`), and see only published bytes, so they run beside appends and never
//! see a partial batch. No lock here is ever held across an `.await` (there are none).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use brook_protocol::records::{Batches, RecordSetSummary, validate_record_set};
use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard, RwLock};

use super::clock::now_ms;
use super::config::LogConfig;
use super::error::{IoContext, LogError, Result};
use super::leader_epoch::{EpochEntry, LeaderEpochCache};
use super::producer_state::{Checked, ProducerBatch, ProducerStates};
use super::recovery::load_segments;
use super::segment::Segment;

/// Offsets a partition's log resumes from, read from the data dir's checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOffsets {
    pub recovery_point: i64,
    pub log_start_offset: i64,
    pub high_watermark: i64,
}

/// Kafka's default `producer.id.expiration.ms`: a producer idle this long is forgotten.
const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// What an append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub records: i64,
    pub bytes: usize,
    /// An idempotent producer's retry of batches already in the log: nothing was
    /// written, and the offsets are where the originals went.
    pub duplicate: bool,
    /// The append time stamped on a LogAppendTime topic's batches, else -1 (Produce's
    /// `log_append_time_ms`).
    pub log_append_time: i64,
}

impl AppendInfo {
    fn new(first_offset: i64, last_offset: i64, summary: &RecordSetSummary) -> Self {
        AppendInfo {
            first_offset,
            last_offset,
            max_timestamp: summary.max_timestamp,
            records: summary.records,
            bytes: summary.bytes,
            duplicate: false,
            log_append_time: -1,
        }
    }

    fn duplicate(first_offset: i64, last_offset: i64) -> Self {
        AppendInfo {
            first_offset,
            last_offset,
            max_timestamp: super::scan::NO_TIMESTAMP,
            records: 0,
            bytes: 0,
            duplicate: true,
            log_append_time: -1,
        }
    }
}

/// A partition's log on disk.
#[derive(Debug)]
pub struct PartitionLog {
    name: String,
    dir: PathBuf,
    config: RwLock<Arc<LogConfig>>,
    /// Segments by base offset; the last one is the active segment.
    segments: RwLock<BTreeMap<i64, Arc<Segment>>>,
    /// The append lock (see the module docs); guards the leader-epoch cache too.
    writer: Mutex<LeaderEpochCache>,
    /// Idempotent producers' state; changed only with `writer` held (taken after it).
    producers: Mutex<ProducerStates>,
    /// Serializes flushes; a flush that finds its offset already flushed returns at once.
    flush_lock: Mutex<()>,
    log_end_offset: AtomicI64,
    log_start_offset: AtomicI64,
    high_watermark: AtomicI64,
    /// Everything below it is on disk (fdatasync).
    recovery_point: AtomicI64,
    last_flush_ms: AtomicI64,
    /// Flushes that wrote something, and the time they took (for metrics).
    flushes: AtomicU64,
    flush_nanos: AtomicU64,
    closed: AtomicBool,
    /// The topic this directory belongs to (`partition.metadata`), read once at open.
    topic_id: Mutex<Option<uuid::Uuid>>,
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering it if the last stop was unclean.
    pub fn open(dir: &Path, config: LogConfig, offsets: LogOffsets, clean: bool) -> Result<PartitionLog> {
        std::fs::create_dir_all(dir).at(dir)?;
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let started = std::time::Instant::now();
        let loaded = load_segments(dir, &config, clean, offsets.recovery_point, offsets.log_start_offset).at(dir)?;
        let active = loaded.segments.last().expect("a log has an active segment");
        let log_end_offset = active.next_offset().at(dir)?;
        let first_base = loaded.segments[0].base_offset();
        let log_start_offset = offsets.log_start_offset.clamp(first_base, log_end_offset);
        let mut epochs = LeaderEpochCache::load(dir);
        if let Some((scanned_from, scanned)) = &loaded.scanned_epochs {
            // The checkpoint may lack what came after the recovery point: re-derive it
            // from the batches recovery just read.
            epochs.rederive_from(*scanned_from, scanned);
        }
        epochs.truncate_from_end(log_end_offset);
        epochs.truncate_from_start(log_start_offset);
        epochs.persist().at(dir)?;
        if !clean {
            tracing::info!(partition = %name, log_end_offset, truncated_bytes = loaded.truncated_bytes,
                elapsed_ms = started.elapsed().as_millis() as u64, "recovered log");
        }
        let log = PartitionLog {
            name,
            dir: dir.to_path_buf(),
            config: RwLock::new(Arc::new(config)),
            segments: RwLock::new(loaded.segments.into_iter().map(|s| (s.base_offset(), s)).collect()),
            writer: Mutex::new(epochs),
            producers: Mutex::new(ProducerStates::default()),
            flush_lock: Mutex::new(()),
            log_end_offset: AtomicI64::new(log_end_offset),
            log_start_offset: AtomicI64::new(log_start_offset),
            high_watermark: AtomicI64::new(offsets.high_watermark.clamp(log_start_offset, log_end_offset)),
            // After an unclean stop, what recovery read may exist only in the page
            // cache: it stays above the recovery point until flushed.
            recovery_point: AtomicI64::new(if clean {
                log_end_offset
            } else {
                offsets.recovery_point.clamp(first_base, log_end_offset)
            }),
            last_flush_ms: AtomicI64::new(now_ms()),
            flushes: AtomicU64::new(0),
            flush_nanos: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            topic_id: Mutex::new(super::partition_metadata::read(dir)),
        };
        log.rebuild_producer_states()?;
        Ok(log)
    }

    /// Reads the producers' last batches from the headers of the newest two segments.
    /// Older producers are not remembered: like producers whose state expired, they may
    /// go on at any sequence. (Kafka snapshots this state at each roll; reading back two
    /// segments covers any retry still in flight, at the cost of a header walk.)
    fn rebuild_producer_states(&self) -> Result<()> {
        let start = {
            let segments = self.segments.read();
            let second_newest = segments.keys().rev().nth(1).copied();
            second_newest.unwrap_or(i64::MIN).max(self.log_start_offset())
        };
        let end = self.log_end_offset();
        let now = now_ms();
        let mut producers = ProducerStates::default();
        let mut next = start;
        while next < end {
            let chunks = self.read(next, 16 << 20, end)?;
            if chunks.is_empty() {
                break;
            }
            let before = next;
            for chunk in &chunks {
                for batch in Batches::new(chunk).filter_map(|b| b.ok()) {
                    if let Some(producer_batch) = ProducerBatch::of(&batch) {
                        producers.record(&producer_batch, batch.base_offset(), now);
                    }
                    next = batch.next_offset();
                }
            }
            if next <= before {
                break; // unreadable bytes: recovery has already cut what it could not read
            }
        }
        *self.producers.lock() = producers;
        Ok(())
    }

    /// Idempotent producers this partition remembers.
    pub fn producer_count(&self) -> usize {
        self.producers.lock().len()
    }

    /// The id of the topic this log belongs to, as recorded in its directory; `None`
    /// for a log created before any was recorded.
    pub fn topic_id(&self) -> Option<uuid::Uuid> {
        *self.topic_id.lock()
    }

    /// Records the id of the topic this log belongs to (`partition.metadata`).
    pub fn record_topic_id(&self, topic_id: uuid::Uuid) -> Result<()> {
        let mut recorded = self.topic_id.lock();
        if *recorded != Some(topic_id) {
            super::partition_metadata::write(&self.dir, topic_id).at(&self.dir)?;
            *recorded = Some(topic_id);
        }
        Ok(())
    }

    /// The partition directory's name (`topic-partition`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> Arc<LogConfig> {
        Arc::clone(&self.config.read())
    }

    /// Applies new topic configs; they take effect from the next append or roll.
    pub fn update_config(&self, config: LogConfig) {
        *self.config.write() = Arc::new(config);
    }

    /// Flushes that wrote data, and their total time.
    pub fn flush_stats(&self) -> (u64, std::time::Duration) {
        (
            self.flushes.load(Ordering::Relaxed),
            std::time::Duration::from_nanos(self.flush_nanos.load(Ordering::Relaxed)),
        )
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset.load(Ordering::Acquire)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// The offset below which everything is on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }

    /// Sets the high watermark (the replication layer's hook), which must lie inside
    /// the log: a value outside is a bug in the caller, not something to paper over.
    /// It is checkpointed with the data dir's `replication-offset-checkpoint`.
    pub fn set_high_watermark(&self, high_watermark: i64) {
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        assert!(
            (start..=end).contains(&high_watermark),
            "{}: high watermark {high_watermark} outside the log [{start}, {end}]",
            self.name
        );
        self.high_watermark.store(high_watermark, Ordering::Release);
    }

    /// Raises the high watermark to `candidate` if it is below it; returns whether it
    /// moved. The leader's hook: appends and follower fetches compute candidates
    /// concurrently, and a check followed by a store would let a slower, smaller one
    /// move the mark back (a consumer then stalls below records it was shown, and an
    /// `acks=all` produce waits for a mark that has already passed it).
    pub fn raise_high_watermark(&self, candidate: i64) -> bool {
        let mut current = self.high_watermark();
        while candidate > current {
            let end = self.log_end_offset();
            assert!(
                candidate <= end,
                "{}: high watermark {candidate} past the log end {end}",
                self.name
            );
            match self
                .high_watermark
                .compare_exchange_weak(current, candidate, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// Adds a new last segment; its base must be above every other segment's.
    fn publish_segment(&self, base: i64, segment: Arc<Segment>) {
        let mut segments = self.segments.write();
        if let Some((&last, _)) = segments.last_key_value() {
            assert!(
                last < base,
                "{}: segment base {base} not above the last, {last}",
                self.name
            );
        }
        segments.insert(base, segment);
    }

    /// Total bytes in the log's segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.read().values().map(|s| s.size() as u64).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }

    /// Appends a produced record set as the leader: every batch is validated (CRC,
    /// counts, size, timestamps), stamped with the append time on a LogAppendTime topic,
    /// then copied to the log and given offsets and `leader_epoch` in place. With
    /// `flush.messages` reached, the data is on disk when this returns.
    pub fn append_as_leader(&self, records: &[u8], leader_epoch: i32) -> Result<AppendInfo> {
        let config = self.config();
        let mut summary = validate_record_set(records)?;
        if summary.max_batch_bytes > config.max_message_bytes as usize {
            return Err(LogError::TooLarge {
                size: summary.max_batch_bytes,
                max: config.max_message_bytes,
            });
        }
        let now = now_ms();
        let stamped = super::timestamps::apply(records, &mut summary, &config, now)?;
        let records: &[u8] = &stamped;
        let mut epochs = self.writer.lock();
        self.ensure_open()?;
        let mut producers = self.producers.lock();
        // Only idempotent producers' record sets take a second walk over the headers.
        let checked = if summary.has_producer_ids {
            producers.check(Batches::new(records).filter_map(|b| b.ok()))?
        } else {
            Checked::Append(Vec::new())
        };
        let producer_batches = match checked {
            Checked::Append(batches) => batches,
            Checked::Duplicate(original) => {
                return Ok(AppendInfo::duplicate(original.first_offset, original.last_offset));
            }
        };
        let first_offset = self.log_end_offset();
        let last_offset = first_offset + summary.records - 1;
        let active = self.active_for(records.len(), last_offset, summary.max_timestamp, &config)?;
        let next_offset_after = active
            .append(records, Some((first_offset, leader_epoch)))
            .at(&self.dir)?;
        producers.record_all(&producer_batches, first_offset, now);
        drop(producers);
        epochs.assign(leader_epoch, first_offset);
        debug_assert_eq!(next_offset_after, last_offset + 1, "offsets are dense");
        let mut info = AppendInfo::new(first_offset, last_offset, &summary);
        if config.log_append_time {
            info.log_append_time = now;
        }
        self.publish(epochs, next_offset_after, &config, info)
    }

    /// Appends batches copied from the leader, with the leader's offsets and epochs.
    /// The first batch must start at or after the log end (a follower truncates first).
    pub fn append_as_follower(&self, records: &[u8]) -> Result<AppendInfo> {
        let config = self.config();
        let summary = validate_record_set(records)?;
        let mut epochs = self.writer.lock();
        self.ensure_open()?;
        let log_end_offset = self.log_end_offset();
        let mut first_offset = None;
        let mut next_offset = log_end_offset;
        let mut epoch_starts: Vec<(i32, i64)> = Vec::new();
        let mut producer_batches: Vec<(ProducerBatch, i64)> = Vec::new();
        for batch in Batches::new(records) {
            let batch = batch?;
            if let Some(producer_batch) = ProducerBatch::of(&batch) {
                producer_batches.push((producer_batch, batch.base_offset()));
            }
            if batch.base_offset() < next_offset {
                return Err(LogError::NonMonotonicOffsets {
                    first_offset: batch.base_offset(),
                    log_end_offset: next_offset,
                });
            }
            first_offset.get_or_insert(batch.base_offset());
            if epoch_starts
                .last()
                .is_none_or(|&(e, _)| batch.partition_leader_epoch() > e)
            {
                epoch_starts.push((batch.partition_leader_epoch(), batch.base_offset()));
            }
            next_offset = batch.next_offset();
        }
        let first_offset = first_offset.unwrap_or(log_end_offset);
        let last_offset = next_offset - 1;
        let active = self.active_for(records.len(), last_offset, summary.max_timestamp, &config)?;
        let base = active.base_offset();
        let next_offset_after = active.append(records, None).at(&self.dir)?;
        debug_assert!(base <= first_offset);
        // The leader's offsets are absolute here.
        self.producers.lock().record_all(&producer_batches, 0, now_ms());
        for (epoch, start) in epoch_starts {
            if epochs.latest_epoch().is_none_or(|latest| epoch > latest) {
                epochs.assign(epoch, start);
            }
        }
        let info = AppendInfo::new(first_offset, last_offset, &summary);
        self.publish(epochs, next_offset_after, &config, info)
    }

    /// Ends an append: publishes the new log end, releases the append lock, then
    /// flushes if `flush.messages` says so (outside the lock, so concurrent appends
    /// share one flush).
    fn publish(
        &self,
        epochs: MutexGuard<'_, LeaderEpochCache>,
        log_end_offset: i64,
        config: &LogConfig,
        info: AppendInfo,
    ) -> Result<AppendInfo> {
        self.log_end_offset.store(log_end_offset, Ordering::Release);
        drop(epochs);
        self.flush_if_needed(config)?;
        Ok(info)
    }

    /// The active segment, rolled first if the incoming record set (`len` bytes,
    /// ending at `last_offset`, newest timestamp `max_timestamp`) would not fit by
    /// `segment.bytes`, its index, its 32-bit relative offsets, or its age
    /// (`segment.ms`). Called with the append lock held.
    fn active_for(&self, len: usize, last_offset: i64, max_timestamp: i64, config: &LogConfig) -> Result<Arc<Segment>> {
        let active = self.active();
        let size = active.size();
        let too_big = size > 0 && size + len > config.segment_bytes as usize;
        let too_old = active.time_waited_for_roll(now_ms(), max_timestamp) > config.segment_ms;
        let offsets_overflow = last_offset - active.base_offset() > i64::from(i32::MAX);
        if too_big || too_old || offsets_overflow || active.index_is_full() || len > active.room() {
            return self.roll_locked(len, config);
        }
        Ok(active)
    }

    /// Starts a new active segment at the log end. Sealing the old one trims it; its
    /// data reaches the disk through the flusher (the recovery point then passes it).
    pub fn roll(&self) -> Result<()> {
        let config = self.config();
        let _epochs = self.writer.lock();
        self.ensure_open()?;
        if self.active().size() > 0 {
            self.roll_locked(0, &config)?;
        }
        Ok(())
    }

    fn roll_locked(&self, len: usize, config: &LogConfig) -> Result<Arc<Segment>> {
        let old = self.active();
        let base = self.log_end_offset();
        let capacity = (config.segment_bytes as usize).max(len);
        if old.size() == 0 {
            // An empty active segment too small for this append: replace it (same
            // base, so its files go first).
            self.segments.write().remove(&old.base_offset());
            old.delete_files().at(&self.dir)?;
        } else {
            old.seal().at(&self.dir)?;
        }
        let segment = Arc::new(Segment::create(&self.dir, base, capacity, config).at(&self.dir)?);
        self.publish_segment(base, Arc::clone(&segment));
        tracing::debug!(partition = %self.name, base_offset = base, "rolled a new segment");
        Ok(segment)
    }

    fn active(&self) -> Arc<Segment> {
        Arc::clone(
            self.segments
                .read()
                .last_key_value()
                .expect("a log has an active segment")
                .1,
        )
    }

    /// Reads whole batches from the one holding `offset`, up to `max_bytes` in total
    /// (but at least one batch, KIP-74), none reaching `upper_bound` (exclusive: the
    /// high watermark for consumers, the log end for followers). The `Bytes` borrow
    /// the segment mappings. Reading at the log end returns nothing; outside
    /// `[log_start_offset, log_end_offset]` is `OffsetOutOfRange`.
    pub fn read(&self, offset: i64, max_bytes: usize, upper_bound: i64) -> Result<Vec<Bytes>> {
        let log_end_offset = self.log_end_offset();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            });
        }
        let upper_bound = upper_bound.min(log_end_offset);
        let mut out = Vec::new();
        let mut remaining = max_bytes;
        let mut next = offset;
        for segment in self.segments_from(offset) {
            if next >= upper_bound {
                break;
            }
            let min_one = out.is_empty();
            match segment.read(next, remaining, upper_bound, min_one).at(&self.dir)? {
                Some((bytes, next_offset)) => {
                    remaining = remaining.saturating_sub(bytes.len());
                    next = next_offset;
                    out.push(bytes);
                }
                None if min_one => continue,
                None => break,
            }
            // Stopped inside this segment (by the budget or the bound): done.
            if next < segment.next_offset().at(&self.dir)? {
                break;
            }
        }
        Ok(out)
    }

    /// Segments that may hold `offset` or later ones, in order. Lazy: each step
    /// takes the segment map's read lock just long enough to clone one `Arc`, so a
    /// fetch far back in a long log does not copy the whole map.
    fn segments_from(&self, offset: i64) -> SegmentsFrom<'_> {
        let first = {
            let segments = self.segments.read();
            segments
                .range(..=offset)
                .next_back()
                .or_else(|| segments.first_key_value())
                .map(|(_, s)| Arc::clone(s))
        };
        SegmentsFrom {
            log: self,
            first,
            after: None,
        }
    }

    /// The first offset whose record timestamp is at least `timestamp`, with that
    /// timestamp (ListOffsets by time); `None` if every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let max_decompressed =
            (self.config().max_message_bytes as usize).saturating_mul(super::timestamps::DECOMPRESSION_FACTOR);
        let start = self.log_start_offset();
        for segment in self.segments_from(start) {
            // Records below the log start are gone to readers even where their
            // segment remains: the search starts at the log start (as Kafka's does).
            let found = segment
                .find_by_timestamp(timestamp, start, max_decompressed)
                .at(&self.dir)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp: (offset, timestamp) (ListOffsets -3).
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let mut max = super::scan::NO_TIMESTAMP;
        for segment in self.segments_from(self.log_start_offset()) {
            max = max.max(segment.max_timestamp().at(&self.dir)?);
        }
        if max < 0 {
            Ok(None)
        } else {
            self.offset_for_timestamp(max)
        }
    }

    /// The leader epochs this log has, oldest first.
    pub fn leader_epochs(&self) -> Vec<EpochEntry> {
        self.writer.lock().entries().to_vec()
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.writer.lock().latest_epoch()
    }

    /// OffsetForLeaderEpoch: the largest epoch at most `epoch` and its end offset.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let epochs = self.writer.lock();
        epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// Removes everything from the batch holding `offset` on (a follower after a leader
    /// change). Readers holding bytes past the cut keep valid (old) bytes; appends go
    /// to a new segment starting at the cut, so no published byte is rewritten.
    /// Returns whether anything was removed.
    pub fn truncate_to(&self, offset: i64) -> Result<bool> {
        let config = self.config();
        let mut epochs = self.writer.lock();
        self.ensure_open()?;
        if offset >= self.log_end_offset() {
            return Ok(false);
        }
        let offset = offset.max(self.log_start_offset());
        let holding: Vec<Arc<Segment>> = self.segments_from(offset).collect();
        let first = &holding[0];
        // The segment holding `offset` keeps the batches before it (if any); every
        // later segment goes.
        let (new_end, keep_first) = match first.locate(offset).at(&self.dir)? {
            Some(location) if location.position > 0 => (first.cut(location, &config).at(&self.dir)?, true),
            Some(location) => (location.base_offset, false),
            None => (first.next_offset().at(&self.dir)?, first.size() > 0),
        };
        let removed = if keep_first { &holding[1..] } else { &holding[..] };
        {
            let mut segments = self.segments.write();
            for segment in removed {
                segments.remove(&segment.base_offset());
            }
        }
        for segment in removed {
            segment.delete_files().at(&self.dir)?;
        }
        let segment =
            Arc::new(Segment::create(&self.dir, new_end, config.segment_bytes as usize, &config).at(&self.dir)?);
        self.publish_segment(new_end, segment);
        self.log_end_offset.store(new_end, Ordering::Release);
        self.high_watermark.fetch_min(new_end, Ordering::AcqRel);
        self.recovery_point.fetch_min(new_end, Ordering::AcqRel);
        epochs.truncate_from_end(new_end);
        self.producers.lock().truncate_to(new_end);
        tracing::info!(partition = %self.name, offset = new_end, "truncated log");
        Ok(true)
    }

    /// Empties the log and starts it again at `offset`: a follower whose leader no longer
    /// has the records after this log's end (its log start moved past them) starts over
    /// from the leader's log start (Kafka's `truncateFullyAndStartAt`). An empty log may
    /// also move back, to take whole a batch the leader's log start falls inside.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<()> {
        let config = self.config();
        let mut epochs = self.writer.lock();
        self.ensure_open()?;
        let log_end_offset = self.log_end_offset();
        let empty = self.log_start_offset() == log_end_offset;
        // A new segment file must not take an existing one's name.
        if !(offset > log_end_offset || empty && !self.segments.read().contains_key(&offset)) {
            return Err(LogError::NonMonotonicOffsets {
                first_offset: offset,
                log_end_offset,
            });
        }
        // The map is swapped in one step, so readers always find an active segment.
        let segment =
            Arc::new(Segment::create(&self.dir, offset, config.segment_bytes as usize, &config).at(&self.dir)?);
        let removed = std::mem::replace(&mut *self.segments.write(), BTreeMap::from([(offset, segment)]));
        for segment in removed.values() {
            segment.delete_files().at(&self.dir)?;
        }
        for position in [
            &self.log_end_offset,
            &self.log_start_offset,
            &self.high_watermark,
            &self.recovery_point,
        ] {
            position.store(offset, Ordering::Release);
        }
        epochs.clear();
        epochs.persist().at(&self.dir)?;
        *self.producers.lock() = ProducerStates::default();
        tracing::info!(partition = %self.name, offset, "emptied the log to start at the leader's log start");
        Ok(())
    }

    /// Moves the log start forward (DeleteRecords, retention). Never past the high
    /// watermark. Whole segments below it are deleted by the next retention pass.
    pub fn advance_log_start_offset(&self, offset: i64) -> Result<i64> {
        let mut epochs = self.writer.lock();
        let new_start = offset.min(self.high_watermark());
        if new_start > self.log_start_offset() {
            self.log_start_offset.store(new_start, Ordering::Release);
            epochs.truncate_from_start(new_start);
            self.producers.lock().remove_before(new_start);
        }
        Ok(self.log_start_offset())
    }

    /// Deletes whole segments that retention (`retention.ms`, `retention.bytes`) or
    /// the log start offset no longer needs. The active segment is rolled first when
    /// every record in it has expired. Returns the number of segments deleted.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        let config = self.config();
        let doomed = {
            let mut epochs = self.writer.lock();
            self.ensure_open()?;
            let mut doomed = Vec::new();
            let segments: Vec<Arc<Segment>> = self.segments.read().values().cloned().collect();
            let mut total: i64 = segments.iter().map(|s| s.size() as i64).sum();
            let log_start = self.log_start_offset();
            for (i, segment) in segments.iter().enumerate() {
                let is_active = i + 1 == segments.len();
                let next_offset = segment.next_offset().at(&self.dir)?;
                let below_start = next_offset <= log_start && segment.size() > 0;
                let expired = config.retention_ms >= 0
                    && segment.size() > 0
                    && segment.max_timestamp().at(&self.dir)? < now_ms - config.retention_ms;
                let over_size = config.retention_bytes >= 0 && total - segment.size() as i64 >= config.retention_bytes;
                if !(below_start || expired || over_size) {
                    break;
                }
                // Never past the high watermark: a consumer may not have read it yet.
                if next_offset > self.high_watermark() {
                    break;
                }
                if is_active {
                    if !expired || segment.size() == 0 {
                        break;
                    }
                    self.roll_locked(0, &config)?;
                }
                total -= segment.size() as i64;
                doomed.push(Arc::clone(segment));
            }
            if let Some(last) = doomed.last() {
                let new_start = last.next_offset().at(&self.dir)?.max(log_start);
                let mut map = self.segments.write();
                for segment in &doomed {
                    map.remove(&segment.base_offset());
                }
                drop(map);
                self.log_start_offset.store(new_start, Ordering::Release);
                epochs.truncate_from_start(new_start);
                self.producers.lock().remove_before(new_start);
            }
            self.producers.lock().expire(now_ms, PRODUCER_ID_EXPIRATION_MS);
            doomed
        };
        for segment in &doomed {
            tracing::info!(partition = %self.name, base_offset = segment.base_offset(), "deleting segment by retention");
            segment.delete_files().at(&self.dir)?;
        }
        Ok(doomed.len())
    }

    /// Flushes if `flush.messages` unflushed records have built up; called after each
    /// append, so `flush.messages=1` means on disk before the ack.
    fn flush_if_needed(&self, config: &LogConfig) -> Result<()> {
        let log_end_offset = self.log_end_offset();
        if log_end_offset - self.recovery_point() >= config.flush_messages {
            self.flush_up_to(log_end_offset)?;
        }
        Ok(())
    }

    /// The background flusher's check: `flush.ms` elapsed with data unflushed, or
    /// rolled segments not yet on disk.
    pub fn flush_if_due(&self, now_ms: i64) -> Result<()> {
        let config = self.config();
        let log_end_offset = self.log_end_offset();
        let recovery_point = self.recovery_point();
        let active_base = self.active().base_offset();
        if recovery_point < active_base {
            self.flush_up_to(active_base)?;
        }
        if log_end_offset > self.recovery_point()
            && now_ms.saturating_sub(self.last_flush_ms.load(Ordering::Relaxed)) >= config.flush_ms
        {
            self.flush_up_to(log_end_offset)?;
        }
        Ok(())
    }

    /// Makes everything below `offset` durable and moves the recovery point there.
    /// Concurrent callers share one flush (group commit): the second finds its offset
    /// already flushed.
    pub fn flush_up_to(&self, offset: i64) -> Result<()> {
        let _flushing = self.flush_lock.lock();
        let target = offset.min(self.log_end_offset());
        let from = self.recovery_point();
        if target <= from {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut flushed_to = target;
        for segment in self.segments_from(from) {
            if segment.base_offset() >= target {
                break;
            }
            segment.flush().at(&self.dir)?;
            // A segment cut by a truncation still holding bytes past its end (a reader
            // had them) must not fall below the recovery point, or a restart would
            // trust those bytes: stop there until the trim succeeds.
            if !segment.is_active() && !segment.try_trim().at(&self.dir)? {
                flushed_to = segment.base_offset();
                break;
            }
        }
        // The epochs up to here must be on disk before the recovery point passes them
        // (recovery re-derives only what lies above it).
        self.writer.lock().persist().at(&self.dir)?;
        self.recovery_point.fetch_max(flushed_to.min(target), Ordering::AcqRel);
        self.last_flush_ms.store(now_ms(), Ordering::Relaxed);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flush_nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the mappings of sealed segments unused since `idle_since_ms`.
    pub fn unmap_idle_segments(&self, idle_since_ms: i64) -> usize {
        let segments: Vec<Arc<Segment>> = self.segments.read().values().cloned().collect();
        segments.iter().filter(|s| s.unmap_if_idle(idle_since_ms)).count()
    }

    /// Flushes everything and trims the active files, for a clean shutdown. Returns
    /// whether the log is in the state a clean open expects (every file ends at its
    /// data); if not, the next open recovers from the recovery point instead.
    pub fn close(&self) -> Result<bool> {
        if !self.stop_appends() {
            return Ok(false);
        }
        self.flush_up_to(self.log_end_offset())?;
        Ok(self.close_segments(true)? && self.recovery_point() == self.log_end_offset())
    }

    /// [`PartitionLog::close`] without an fsync per file, for a shutdown that syncs the
    /// whole file system once instead (`syncfs`: one call for thousands of logs where
    /// each `close` waits for four). Returns whether every file ends at its data. The
    /// recovery point stays where it was, so a checkpoint written before the sync
    /// claims nothing that is not on disk; [`PartitionLog::synced_to_end`] moves it
    /// once the sync has succeeded.
    pub fn close_unsynced(&self) -> Result<bool> {
        if !self.stop_appends() {
            return Ok(false);
        }
        // The epochs' own file is synced here: recovery trusts it below the recovery point.
        self.writer.lock().persist().at(&self.dir)?;
        self.close_segments(false)
    }

    /// After [`PartitionLog::close_unsynced`] and a successful sync of the file system:
    /// every byte of the log is on disk.
    pub fn synced_to_end(&self) {
        debug_assert!(self.closed.load(Ordering::Acquire), "only a closed log stops growing");
        self.recovery_point.fetch_max(self.log_end_offset(), Ordering::AcqRel);
    }

    /// Marks the log closed, waiting out an append in flight (none starts after);
    /// false if it was closed already.
    fn stop_appends(&self) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        drop(self.writer.lock());
        true
    }

    fn close_segments(&self, durable: bool) -> Result<bool> {
        let mut clean = true;
        for segment in self.segments.read().values() {
            clean &= segment.close(durable).at(&self.dir)?;
        }
        Ok(clean)
    }

    /// Stops appends (the partition is being deleted); reads of bytes already handed
    /// out stay valid.
    pub fn mark_deleted(&self) {
        let _epochs = self.writer.lock();
        self.closed.store(true, Ordering::Release);
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(LogError::Closed(self.name.clone()));
        }
        Ok(())
    }
}

/// Iterator of [`PartitionLog::segments_from`]. The segment after the current one is
/// looked up only when asked for, so a read that stops early costs one lookup.
struct SegmentsFrom<'a> {
    log: &'a PartitionLog,
    first: Option<Arc<Segment>>,
    after: Option<i64>,
}

impl Iterator for SegmentsFrom<'_> {
    type Item = Arc<Segment>;

    fn next(&mut self) -> Option<Arc<Segment>> {
        let segment = match self.first.take() {
            Some(first) => first,
            None => {
                let after = self.after?;
                let segments = self.log.segments.read();
                let (_, next) = segments.range((Bound::Excluded(after), Bound::Unbounded)).next()?;
                Arc::clone(next)
            }
        };
        self.after = Some(segment.base_offset());
        Some(segment)
    }
}
