//! Appending record sets to a segment file with `pwritev`.
//!
//! Why not memcpy into the mapping: a write fault on a new page of a shared file
//! mapping makes the kernel read (here: zero-fill) the page before the copy lands on
//! it, which cost half of the append time when measured (`benches/benches/log.rs`,
//! perf: `filemap_fault` -> `ext4_mpage_readpages` -> `memset`). A buffered write of
//! whole pages skips that, and the bytes still reach the one page cache that readers
//! see through their mappings. The leader's `baseOffset` and `partitionLeaderEpoch`
//! go in on the way: each batch is written as a patched 17-byte head plus its
//! untouched rest, so the record bytes are copied once, by the kernel.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use brook_protocol::records::Batches;

/// Bytes of a batch header up to and including `magic`: baseOffset, batchLength,
/// partitionLeaderEpoch, magic.
const HEAD: usize = 17;
/// Batches per `pwritev` call (two iovecs each, far below `IOV_MAX`).
const BATCHES_PER_CALL: usize = 32;

/// Writes `records` (whole, validated batches) at `position`. With `assign =
/// Some((first_offset, leader_epoch))`, batches get consecutive offsets from
/// `first_offset` and that epoch, as [`brook_protocol::records::assign_offsets`] would.
pub(crate) fn write_record_set(
    file: &File,
    position: u64,
    records: &[u8],
    assign: Option<(i64, i32)>,
) -> io::Result<()> {
    let Some((mut next_offset, epoch)) = assign else {
        return file.write_all_at(records, position);
    };
    let mut heads = [[0u8; HEAD]; BATCHES_PER_CALL];
    let mut rests: [&[u8]; BATCHES_PER_CALL] = [&[]; BATCHES_PER_CALL];
    let mut batches = Batches::new(records).peekable();
    let mut at = position;
    while batches.peek().is_some() {
        let mut count = 0;
        let mut bytes = 0;
        while count < BATCHES_PER_CALL
            && let Some(batch) = batches.next()
        {
            let batch = batch.map_err(io::Error::other)?;
            let raw = batch.as_bytes();
            heads[count].copy_from_slice(&raw[..HEAD]);
            heads[count][0..8].copy_from_slice(&next_offset.to_be_bytes());
            heads[count][12..16].copy_from_slice(&epoch.to_be_bytes());
            rests[count] = &raw[HEAD..];
            next_offset += i64::from(batch.last_offset_delta()) + 1;
            bytes += raw.len();
            count += 1;
        }
        write_vectored_at(file, at, &heads[..count], &rests[..count], bytes)?;
        at += bytes as u64;
    }
    Ok(())
}

/// One `pwritev` of (head, rest) pairs; a short write (rare: signals, odd
/// filesystems) finishes piece by piece.
fn write_vectored_at(
    file: &File,
    position: u64,
    heads: &[[u8; HEAD]],
    rests: &[&[u8]],
    total: usize,
) -> io::Result<()> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 2 * BATCHES_PER_CALL];
    for (i, (head, rest)) in heads.iter().zip(rests).enumerate() {
        iov[2 * i] = libc::iovec {
            iov_base: head.as_ptr() as *mut libc::c_void,
            iov_len: head.len(),
        };
        iov[2 * i + 1] = libc::iovec {
            iov_base: rest.as_ptr() as *mut libc::c_void,
            iov_len: rest.len(),
        };
    }
    let count = 2 * heads.len();
    let offset = libc::off_t::try_from(position).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: every iovec points into `heads` or `rests`, which outlive the call.
    let written = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), count as libc::c_int, offset) };
    let written = usize::try_from(written).map_err(|_| io::Error::last_os_error())?;
    if written == total {
        return Ok(());
    }
    // Finish what the short write left, piece by piece.
    let mut skip = written;
    let mut at = position;
    for (head, rest) in heads.iter().zip(rests) {
        for piece in [&head[..], rest] {
            let from = skip.min(piece.len());
            skip -= from;
            file.write_all_at(&piece[from..], at + from as u64)?;
            at += piece.len() as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use brook_protocol::records::{BatchBuilder, BatchView, Compression, assign_offsets};
    use bytes::BytesMut;

    #[test]
    fn writes_what_assign_offsets_would_produce() {
        let mut set = BytesMut::new();
        let mut builder = BatchBuilder::new(Compression::None);
        for batch in 0..70 {
            for record in 0..(1 + batch % 3) {
                builder.append(record, Some(b"k"), Some(&[batch as u8; 40]), &[]);
            }
            builder.build_into(&mut set).unwrap();
        }
        let file = tempfile::tempfile().unwrap();
        write_record_set(&file, 100, &set, Some((1000, 7))).unwrap();
        let mut expected = set.to_vec();
        assign_offsets(&mut expected, 1000, 7).unwrap();
        let mut written = vec![0u8; expected.len()];
        file.read_exact_at(&mut written, 100).unwrap();
        assert_eq!(written, expected);
        assert!(BatchView::new(&written).unwrap().validate().is_ok());
    }
}
