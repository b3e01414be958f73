//! Sparse offset and time indexes: arrays of fixed-size big-endian entries in a mapped
//! file, as Kafka lays them out.
//!
//! - `NNN.index`: (offset relative to the segment base: u32, file position: u32). An
//!   entry names the *last* offset of a batch and the position where that batch starts.
//! - `NNN.timeindex`: (timestamp: i64, relative offset: u32), the segment's largest
//!   timestamp so far and the last offset of the batch that carried it.
//!
//! Entries are appended by the partition's single writer every `index.interval.bytes`
//! of log, and published by a count that readers load with `Acquire`. An index is
//! never rewritten in place; a truncated segment's index only loses its tail.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::mapping::{Mapping, grow_file, sync_dir};

/// One fixed-size index entry.
pub(crate) trait IndexEntry: Copy + std::fmt::Debug {
    const SIZE: usize;
    /// The key entries are sorted by and searched on.
    fn key(&self) -> i64;
    fn decode(bytes: &[u8]) -> Self;
    fn encode(&self, out: &mut [u8]);
}

/// `NNN.index` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn key(&self) -> i64 {
        i64::from(self.relative_offset)
    }
    fn decode(bytes: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes(bytes[0..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes")),
        }
    }
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }
}

/// `NNN.timeindex` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn key(&self) -> i64 {
        self.timestamp
    }
    fn decode(bytes: &[u8]) -> Self {
        TimeEntry {
            timestamp: i64::from_be_bytes(bytes[0..8].try_into().expect("8 bytes")),
            relative_offset: u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")),
        }
    }
    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }
}

pub(crate) type OffsetIndex = IndexFile<OffsetEntry>;
pub(crate) type TimeIndex = IndexFile<TimeEntry>;

/// Largest step by which an active index file grows at a time.
const MAX_GROWTH: u64 = 1024 * 1024;

/// A mapped index file. Writable while its segment is active; mapped read-only and
/// lazily (on first lookup) once sealed, and unmapped again when idle.
#[derive(Debug)]
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    /// Published entry count.
    entries: AtomicUsize,
    mapping: Mutex<Option<Arc<Mapping>>>,
    /// Writer-only state; `Some` while the segment is active.
    writer: Mutex<Option<IndexWriter>>,
    _entry: PhantomData<E>,
}

#[derive(Debug)]
struct IndexWriter {
    /// Entries the mapping has room for (`segment.index.bytes`).
    capacity: usize,
    /// Current file length.
    allocated: u64,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates an empty, writable index (an existing file at `path` is replaced).
    pub(crate) fn create(path: &Path, max_index_bytes: u64) -> io::Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Self::open_writable(path.to_path_buf(), &file, 0, max_index_bytes)
    }

    /// Reopens the index of an active segment after a clean shutdown: the file holds
    /// exactly its entries (it was trimmed) and stays writable.
    pub(crate) fn reopen_active(path: &Path, max_index_bytes: u64) -> io::Result<Self> {
        let file = File::options().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if len % E::SIZE as u64 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "index length is not a whole number of entries",
            ));
        }
        Self::open_writable(
            path.to_path_buf(),
            &file,
            (len / E::SIZE as u64) as usize,
            max_index_bytes,
        )
    }

    fn open_writable(path: PathBuf, file: &File, entries: usize, max_index_bytes: u64) -> io::Result<Self> {
        let capacity = (max_index_bytes as usize / E::SIZE).max(entries + 1);
        let mapping = Mapping::writable(file, capacity * E::SIZE)?;
        Ok(IndexFile {
            path,
            entries: AtomicUsize::new(entries),
            mapping: Mutex::new(Some(mapping)),
            writer: Mutex::new(Some(IndexWriter {
                capacity,
                allocated: file.metadata()?.len(),
            })),
            _entry: PhantomData,
        })
    }

    /// A sealed index, mapped on first use. `entries` comes from the file length.
    pub(crate) fn sealed(path: &Path) -> io::Result<Self> {
        let len = std::fs::metadata(path)?.len();
        if len % E::SIZE as u64 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "index length is not a whole number of entries",
            ));
        }
        Ok(IndexFile {
            path: path.to_path_buf(),
            entries: AtomicUsize::new((len / E::SIZE as u64) as usize),
            mapping: Mutex::new(None),
            writer: Mutex::new(None),
            _entry: PhantomData,
        })
    }

    /// Writes `entries` as a new sealed index file.
    pub(crate) fn write_sealed(path: &Path, entries: &[E]) -> io::Result<Self> {
        write_entries(path, entries)?;
        Self::sealed(path)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }

    /// Whether the active index is out of room. One slot stays spare for the final
    /// time entry written when the segment is sealed.
    pub(crate) fn is_full(&self) -> bool {
        match &*self.writer.lock() {
            Some(writer) => self.len() + 1 >= writer.capacity,
            None => true,
        }
    }

    /// All published entries, decoded. Used to validate and to rebuild.
    pub(crate) fn entries(&self) -> io::Result<Vec<E>> {
        let Some((mapping, count)) = self.map()? else {
            return Ok(Vec::new());
        };
        Ok((0..count).map(|i| entry_at(&mapping, i)).collect())
    }

    pub(crate) fn last(&self) -> io::Result<Option<E>> {
        let Some((mapping, count)) = self.map()? else {
            return Ok(None);
        };
        Ok(Some(entry_at(&mapping, count - 1)))
    }

    /// The last entry whose key is at most `key`, if any.
    pub(crate) fn floor(&self, key: i64) -> io::Result<Option<E>> {
        let Some((mapping, count)) = self.map()? else {
            return Ok(None);
        };
        // Binary search for the number of entries with key <= `key`.
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if entry_at::<E>(&mapping, mid).key() <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo.checked_sub(1).map(|i| entry_at(&mapping, i)))
    }

    /// Appends an entry. Only the partition's writer calls this, on an active index.
    pub(crate) fn append(&self, entry: E) -> io::Result<()> {
        let mut writer = self.writer.lock();
        let writer = writer
            .as_mut()
            .ok_or_else(|| io::Error::other("append to a sealed index"))?;
        let count = self.len();
        if count >= writer.capacity {
            return Err(io::Error::other("index is full"));
        }
        let end = ((count + 1) * E::SIZE) as u64;
        if end > writer.allocated {
            let file = File::options().write(true).open(&self.path)?;
            let limit = (writer.capacity * E::SIZE) as u64;
            writer.allocated = grow_file(&file, writer.allocated, end, limit, MAX_GROWTH)?;
        }
        let mapping = self.mapping.lock().clone().expect("an active index stays mapped");
        // SAFETY: we are the single writer, the slot is above the published count and
        // inside the grown file.
        entry.encode(unsafe { mapping.slice_mut(count * E::SIZE, (count + 1) * E::SIZE) });
        self.entries.store(count + 1, Ordering::Release);
        Ok(())
    }

    /// Replaces a sealed index's entries with `entries` (written to a new file, so
    /// readers of the old mapping keep a consistent old view).
    pub(crate) fn replace_sealed(&self, entries: &[E]) -> io::Result<()> {
        write_entries(&self.path, entries)?;
        let mut slot = self.mapping.lock();
        self.writer.lock().take();
        *slot = None;
        self.entries.store(entries.len(), Ordering::Release);
        Ok(())
    }

    /// fdatasync of the file.
    pub(crate) fn sync(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_data()
    }

    /// Seals the index: trims the file to its entries (so the next open knows the
    /// count) and drops the writable mapping; the next lookup maps it read-only.
    /// `durable` msyncs and fsyncs first (clean shutdown); on roll the flusher does it.
    pub(crate) fn seal(&self, durable: bool) -> io::Result<()> {
        if self.writer.lock().take().is_none() {
            return Ok(());
        }
        let mut slot = self.mapping.lock();
        if durable && let Some(mapping) = &*slot {
            mapping.flush_range(0, (self.len() * E::SIZE).min(mapping.len()))?;
        }
        // Readers hold their own `Arc`s and never read past the published count, and
        // shrinking keeps every byte below it: no access past the new end.
        let file = File::options().write(true).open(&self.path)?;
        file.set_len((self.len() * E::SIZE) as u64)?;
        if durable {
            file.sync_all()?;
        }
        *slot = None;
        Ok(())
    }

    /// Drops the mapping of a sealed index; the next lookup maps it again.
    pub(crate) fn unmap_if_sealed(&self) {
        if self.writer.lock().is_none() {
            *self.mapping.lock() = None;
        }
    }

    pub(crate) fn is_mapped(&self) -> bool {
        self.mapping.lock().is_some()
    }

    /// The mapping and the published count (`None` when there are no entries),
    /// mapping a sealed file on first use.
    fn map(&self) -> io::Result<Option<(Arc<Mapping>, usize)>> {
        let mut slot = self.mapping.lock();
        let count = self.len();
        if count == 0 {
            return Ok(None);
        }
        if let Some(mapping) = &*slot {
            return Ok(Some((Arc::clone(mapping), count)));
        }
        let file = File::open(&self.path)?;
        let mapping = Mapping::read_only(&file, count * E::SIZE)?;
        *slot = Some(Arc::clone(&mapping));
        Ok(Some((mapping, count)))
    }
}

/// Writes an index file atomically: temp file, fsync, rename, fsync of the directory.
fn write_entries<E: IndexEntry>(path: &Path, entries: &[E]) -> io::Result<()> {
    let mut bytes = vec![0u8; entries.len() * E::SIZE];
    for (entry, out) in entries.iter().zip(bytes.chunks_exact_mut(E::SIZE)) {
        entry.encode(out);
    }
    let tmp = path.with_extension("index-tmp");
    std::fs::write(&tmp, &bytes)?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn entry_at<E: IndexEntry>(mapping: &Mapping, i: usize) -> E {
    // SAFETY: callers pass `i` below the published count loaded with `Acquire`.
    E::decode(unsafe { mapping.slice(i * E::SIZE, (i + 1) * E::SIZE) })
}
