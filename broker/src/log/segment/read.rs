//! Reading a segment: locating a batch by offset or timestamp and handing out the
//! published bytes, borrowed from the mapping. Nothing here takes the writer's lock.

use std::fs::File;
use std::io;
use std::sync::Arc;

use brook_protocol::records::{Batches, TimestampType};
use bytes::Bytes;

use super::{BatchLocation, Segment, log_path};
use crate::log::mapping::Mapping;
use crate::log::scan::find_batch;

impl Segment {
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

    /// The first record at or after `timestamp` whose offset is `from` or later:
    /// (offset, timestamp).
    pub(crate) fn find_by_timestamp(
        &self,
        timestamp: i64,
        from: i64,
        max_decompressed: usize,
    ) -> io::Result<Option<(i64, i64)>> {
        if self.max_timestamp()? < timestamp {
            return Ok(None);
        }
        let start = self
            .time_index
            .floor(timestamp)?
            .map_or(self.base_offset, |e| self.base_offset + i64::from(e.relative_offset))
            .max(from);
        let found = self.with_bytes(|bytes| {
            let location = self.locate_in(bytes, start).ok()??;
            for batch in Batches::new(&bytes[location.position..]).map_while(Result::ok) {
                if batch.max_timestamp() < timestamp || batch.last_offset() < from {
                    continue;
                }
                if batch.timestamp_type() == TimestampType::LogAppendTime {
                    return Some((batch.base_offset().max(from), batch.max_timestamp()));
                }
                let payload = batch.records_payload(max_decompressed).ok()?;
                for record in batch.records(&payload).map_while(Result::ok) {
                    let offset = batch.base_offset() + i64::from(record.offset_delta);
                    let record_timestamp = batch.base_timestamp() + record.timestamp_delta;
                    if record_timestamp >= timestamp && offset >= from {
                        return Some((offset, record_timestamp));
                    }
                }
            }
            None
        })?;
        Ok(found.flatten())
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
    pub(super) fn with_bytes<T>(&self, f: impl FnOnce(&[u8]) -> T) -> io::Result<Option<T>> {
        Ok(self.mapped()?.map(|(mapping, size)| {
            // SAFETY: below the published size.
            f(unsafe { mapping.slice(0, size) })
        }))
    }
}
