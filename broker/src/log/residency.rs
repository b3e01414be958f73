//! Keeping page faults off the async workers. Record bytes handed to a socket are read by
//! the kernel inside the write; a page of a cold segment not in memory would block that
//! write (and the tokio worker doing it) on the disk. [`absent_pages`] asks the kernel
//! (`mincore`) which pages are missing, and [`fault_in`] reads them on the calling
//! (blocking) thread, so the write that follows only copies.

use bytes::Bytes;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// The page-aligned range covering `bytes`.
fn page_range(bytes: &[u8], page: usize) -> (usize, usize) {
    let start = bytes.as_ptr() as usize & !(page - 1);
    let end = (bytes.as_ptr() as usize + bytes.len()).div_ceil(page) * page;
    (start, end)
}

/// Whether any page under `chunks` is not resident. Memory that `mincore` cannot
/// describe (not a mapping) counts as resident: it is ordinary heap.
pub fn absent_pages(chunks: &[Bytes]) -> bool {
    let page = page_size();
    let mut vector = Vec::new();
    chunks.iter().filter(|c| !c.is_empty()).any(|chunk| {
        let (start, end) = page_range(chunk, page);
        let pages = (end - start) / page;
        vector.clear();
        vector.resize(pages, 0u8);
        // SAFETY: [start, end) covers memory this process has mapped (the chunk's
        // bytes, rounded to whole pages), and `vector` holds one byte per page.
        let rc = unsafe { libc::mincore(start as *mut libc::c_void, end - start, vector.as_mut_ptr()) };
        rc == 0 && vector.iter().any(|v| v & 1 == 0)
    })
}

/// Reads one byte of every page under `chunks`, bringing them into memory. Blocking.
pub fn fault_in(chunks: &[Bytes]) {
    let page = page_size();
    let mut sum = 0u8;
    for chunk in chunks {
        let mut offset = 0;
        while offset < chunk.len() {
            sum = sum.wrapping_add(chunk[offset]);
            offset += page;
        }
        if let Some(last) = chunk.last() {
            sum = sum.wrapping_add(*last);
        }
    }
    std::hint::black_box(sum);
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn pages_of_a_fresh_mapping_are_reported_until_faulted_in() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; 64 * 1024]).unwrap();
        file.sync_all().unwrap();
        // SAFETY: the file is private to this test and not resized while mapped.
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        // Drop the file's pages from the page cache so the mapping starts cold.
        // SAFETY: advisory only, on a mapping we own.
        unsafe { libc::posix_fadvise(std::os::fd::AsRawFd::as_raw_fd(&file), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let bytes = Bytes::from_owner(map).slice(100..50_000);
        let chunks = vec![bytes];
        fault_in(&chunks);
        assert!(!absent_pages(&chunks), "every page was read");
        let heap = vec![Bytes::from(vec![1u8; 10_000])];
        assert!(!absent_pages(&heap));
        assert!(!absent_pages(&[Bytes::new()]));
    }
}
