//! Shared memory mappings of segment and index files, and the `Bytes` that borrow them.
//!
//! The log's one rule for mapped memory: **a byte below a published length is never
//! written again.** Appends write past the published end (log: through the file; index:
//! through its mapping) and then publish; truncation never rewrites in place (it starts
//! a new segment file, see `partition_log.rs`).
//! That rule is what makes it sound to hand out `&[u8]` and `Bytes` over a mapping that
//! is still being appended to.

use std::fs::File;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Advice, MmapOptions, MmapRaw};

/// One mapping of a file, unmapped when the last `Arc` to it drops (readers' `Bytes`
/// included, so a segment deleted mid-fetch stays readable until the fetch is sent).
#[derive(Debug)]
pub(crate) struct Mapping {
    raw: MmapRaw,
}

impl Mapping {
    /// Maps `len` bytes of `file` for reading and writing. The file may be shorter than
    /// `len`: the caller grows it (see [`grow_file`]) before writing past its end.
    pub(crate) fn writable(file: &File, len: usize) -> io::Result<Arc<Mapping>> {
        let raw = MmapOptions::new().len(len).map_raw(file)?;
        Ok(Arc::new(Mapping { raw }))
    }

    /// Maps the first `len` bytes of `file` read-only.
    pub(crate) fn read_only(file: &File, len: usize) -> io::Result<Arc<Mapping>> {
        let raw = MmapOptions::new().len(len).map_raw_read_only(file)?;
        Ok(Arc::new(Mapping { raw }))
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// The published bytes `[start, end)`.
    ///
    /// # Safety
    /// `end` must not exceed a length this mapping's writer has published: those bytes
    /// are never written again (the module rule), and the file is at least that long.
    pub(crate) unsafe fn slice(&self, start: usize, end: usize) -> &[u8] {
        debug_assert!(start <= end && end <= self.len());
        // SAFETY: in bounds of the mapping (asserted), and immutable per the caller's
        // contract.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().add(start), end - start) }
    }

    /// The unpublished bytes `[start, end)`, for the single writer.
    ///
    /// # Safety
    /// Only the one writer of this mapping may call this, only above the published
    /// length, only where the file has been grown, and the returned slice must not
    /// outlive the write.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self, start: usize, end: usize) -> &mut [u8] {
        debug_assert!(start <= end && end <= self.len());
        // SAFETY: in bounds; no reader looks above the published length and there is
        // only one writer, so this is the only reference to these bytes.
        unsafe { std::slice::from_raw_parts_mut(self.raw.as_mut_ptr().add(start), end - start) }
    }

    /// A `Bytes` over `[start, end)` that keeps this mapping alive.
    ///
    /// # Safety
    /// As for [`Mapping::slice`].
    pub(crate) unsafe fn bytes(self: &Arc<Self>, start: usize, end: usize) -> Bytes {
        debug_assert!(start <= end && end <= self.len());
        Bytes::from_owner(MappedBytes {
            mapping: Arc::clone(self),
            start,
            end,
        })
    }

    /// msync of `[start, end)`: the dirty pages reach the file before this returns.
    pub(crate) fn flush_range(&self, start: usize, end: usize) -> io::Result<()> {
        if end > start {
            self.raw.flush_range(start, end - start)?;
        }
        Ok(())
    }

    /// Asks the kernel to read `[start, end)` ahead, so that the socket write (or the
    /// header scan) that follows does not stall a runtime worker on page faults.
    pub(crate) fn will_need(&self, start: usize, end: usize) {
        if end > start {
            // Advice only: a failure changes nothing but speed.
            let _ = self.raw.advise_range(Advice::WillNeed, start, end - start);
        }
    }
}

/// The owner behind a mapped `Bytes`.
struct MappedBytes {
    mapping: Arc<Mapping>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for MappedBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: built only by `Mapping::bytes`, whose caller vouched for the range.
        unsafe { self.mapping.slice(self.start, self.end) }
    }
}

/// Grows `file` to at least `needed` bytes, allocating the blocks now (fallocate), so
/// that a full disk is an error here rather than a SIGBUS on a later write through the
/// mapping. Grows geometrically (doubling, at most `max_step` at a time) so a busy file
/// does not fallocate per append and an idle one does not hold a whole segment of disk.
/// Returns the new length.
pub(crate) fn grow_file(file: &File, current: u64, needed: u64, limit: u64, max_step: u64) -> io::Result<u64> {
    if needed <= current {
        return Ok(current);
    }
    let step = current.clamp(MIN_GROWTH, max_step.max(MIN_GROWTH));
    let target = needed.max(current + step).min(limit.max(needed));
    allocate(file, target)?;
    Ok(target)
}

/// Smallest growth step: one page-aligned 64 KiB.
const MIN_GROWTH: u64 = 64 * 1024;

fn allocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // posix_fallocate falls back to writing zeros on filesystems without fallocate, so
    // either way the blocks exist when it returns. It returns the error number.
    // SAFETY: a plain syscall on a valid descriptor.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// fsync of a directory, so that created, renamed and deleted entries are durable.
pub(crate) fn sync_dir(dir: &std::path::Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `syncfs` of the file system holding `dir`: every dirty page, inode and entry on it
/// is written and the disk's cache flushed, in one journal commit. Fails with the
/// file system's writeback error if one happened since `dir` was opened here or was
/// last reported (Linux 5.8 and later).
pub(crate) fn sync_file_system(dir: &std::path::Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir)?;
    // SAFETY: a plain syscall on a valid descriptor.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_geometric_and_capped() {
        let file = tempfile::tempfile().unwrap();
        let mib = 1024 * 1024;
        assert_eq!(grow_file(&file, 0, 10, 16 * mib, 4 * mib).unwrap(), MIN_GROWTH);
        assert_eq!(
            grow_file(&file, MIN_GROWTH, MIN_GROWTH + 1, 16 * mib, 4 * mib).unwrap(),
            2 * MIN_GROWTH
        );
        assert_eq!(
            grow_file(&file, 8 * mib, 8 * mib + 1, 16 * mib, 4 * mib).unwrap(),
            12 * mib
        );
        assert_eq!(
            grow_file(&file, 15 * mib, 15 * mib + 1, 16 * mib, 4 * mib).unwrap(),
            16 * mib
        );
        // A single write bigger than the limit still gets its room.
        assert_eq!(
            grow_file(&file, 16 * mib, 20 * mib, 16 * mib, 4 * mib).unwrap(),
            20 * mib
        );
        assert_eq!(file.metadata().unwrap().len(), 20 * mib);
    }

    #[test]
    fn mapped_bytes_outlive_the_segment_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let mapping = Mapping::writable(&file, 1 << 20).unwrap();
        grow_file(&file, 0, 5, 1 << 20, 1 << 20).unwrap();
        // SAFETY: single writer, file grown, nothing published yet.
        unsafe { mapping.slice_mut(0, 5) }.copy_from_slice(b"hello");
        // SAFETY: 5 bytes written and (in this test) published.
        let bytes = unsafe { mapping.bytes(0, 5) };
        drop(mapping);
        drop(file);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&bytes[..], b"hello");
    }
}
