//! Loading a partition's segments from disk, and recovering after an unclean stop.
//!
//! After a clean shutdown nothing is scanned: sealed segments are trusted and the
//! active one resumes from its last index entry. After an unclean stop, the segments
//! from the one holding the recovery point on are scanned batch by batch (length,
//! magic, CRC-32C, offsets); the log is cut at the first batch that fails, later
//! segments are deleted, and the indexes of every scanned segment are rewritten. Work
//! is proportional to the unflushed tail, not to the log.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::config::LogConfig;
use super::mapping::sync_dir;
use super::scan::{Scan, ScanStop};
use super::segment::{Segment, delete_segment_files, log_path, scan_log_file, write_sealed_indexes};

/// What [`load_segments`] found.
pub(crate) struct Loaded {
    /// All segments in offset order; the last one is active.
    pub segments: Vec<Arc<Segment>>,
    /// Bytes cut from the log by recovery.
    pub truncated_bytes: u64,
    /// When segments were scanned: the first scanned offset, and the (epoch, start
    /// offset) pairs the scanned batches show.
    pub scanned_epochs: Option<(i64, Vec<(i32, i64)>)>,
}

/// Suffixes of files left behind by an interrupted operation; they are removed.
const LEFTOVER_SUFFIXES: &[&str] = &[".deleted", ".tmp", ".index-tmp", ".cleaned", ".swap"];

/// Opens the segments in `dir`. `clean` says the last stop was a clean shutdown;
/// otherwise segments from the one holding `recovery_point` on are verified.
/// `first_offset` is where an empty log starts.
pub(crate) fn load_segments(
    dir: &Path,
    config: &LogConfig,
    clean: bool,
    recovery_point: i64,
    first_offset: i64,
) -> io::Result<Loaded> {
    let mut bases = list_segments(dir)?;
    bases.sort_unstable();
    let Some(&last) = bases.last() else {
        let segment = Segment::create(dir, first_offset, config.segment_bytes as usize, config)?;
        return Ok(Loaded {
            segments: vec![Arc::new(segment)],
            truncated_bytes: 0,
            scanned_epochs: None,
        });
    };
    let first_unflushed = if clean {
        bases.len()
    } else {
        bases.iter().rposition(|&b| b <= recovery_point).unwrap_or(0)
    };
    let mut segments = Vec::with_capacity(bases.len());
    for &base in &bases[..first_unflushed.min(bases.len() - 1)] {
        segments.push(Arc::new(Segment::open_sealed(dir, base, config)?));
    }
    if clean {
        segments.push(Arc::new(Segment::open_active_clean(dir, last, config)?));
        return Ok(Loaded {
            segments,
            truncated_bytes: 0,
            scanned_epochs: None,
        });
    }
    let mut truncated_bytes = 0;
    let unflushed = &bases[first_unflushed..];
    let mut epochs = Vec::new();
    let mut deleted_any = false;
    for (i, &base) in unflushed.iter().enumerate() {
        let bound = unflushed.get(i + 1).copied().unwrap_or(i64::MAX);
        let (scan, file_len) = scan_log_file(dir, base, bound, config, true)?;
        let is_last = i + 1 == unflushed.len();
        let damaged = matches!(scan.stop, ScanStop::Corrupt(_) | ScanStop::BadOffsets { .. });
        epochs.extend_from_slice(&scan.epoch_starts);
        let cut = file_len - scan.valid_bytes as u64;
        if cut > 0 {
            truncated_bytes += cut;
            report_cut(dir, base, &scan, cut, file_len);
        }
        if is_last || damaged {
            for &later in &unflushed[i + 1..] {
                let size = std::fs::metadata(log_path(dir, later)).map_or(0, |m| m.len());
                tracing::warn!(dir = %dir.display(), base_offset = later, bytes = size,
                    "deleting a segment after a damaged one");
                truncated_bytes += size;
                delete_segment_files(dir, later)?;
                deleted_any = true;
            }
            segments.push(Arc::new(Segment::open_active_recovered(dir, base, scan, config)?));
            break;
        }
        seal_recovered(dir, base, scan)?;
        segments.push(Arc::new(Segment::open_sealed(dir, base, config)?));
    }
    if deleted_any {
        sync_dir(dir)?;
    }
    Ok(Loaded {
        segments,
        truncated_bytes,
        scanned_epochs: Some((unflushed[0], epochs)),
    })
}

/// Trims a scanned, non-last segment to its valid bytes and writes its indexes. No
/// fsync of the trim: the segment stays above the recovery point until the flusher
/// syncs it, so a crash before that just repeats this recovery.
fn seal_recovered(dir: &Path, base: i64, scan: Scan) -> io::Result<()> {
    let file = File::options().write(true).open(log_path(dir, base))?;
    file.set_len(scan.valid_bytes as u64)?;
    write_sealed_indexes(dir, base, scan.into_sealed_entries())?;
    Ok(())
}

fn report_cut(dir: &Path, base: i64, scan: &Scan, cut: u64, file_len: u64) {
    match &scan.stop {
        // A preallocated tail of zeros, or bytes a truncation left past the next
        // segment's base: the expected state after an unclean stop.
        ScanStop::Corrupt(_) if tail_is_zero(dir, base, scan.valid_bytes as u64, file_len) => {
            tracing::debug!(dir = %dir.display(), base_offset = base, bytes = cut, "dropped the preallocated tail")
        }
        ScanStop::Bound | ScanStop::End => {
            tracing::info!(dir = %dir.display(), base_offset = base, bytes = cut, "dropped bytes past the next segment")
        }
        stop => tracing::warn!(
            dir = %dir.display(), base_offset = base, next_offset = scan.next_offset,
            position = scan.valid_bytes, bytes = cut, reason = ?stop,
            "truncated the log at a torn or corrupt batch"
        ),
    }
}

fn tail_is_zero(dir: &Path, base: i64, from: u64, to: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(file) = File::open(log_path(dir, base)) else {
        return false;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = buf.len().min((to - at) as usize);
        if file.read_exact_at(&mut buf[..n], at).is_err() || buf[..n].iter().any(|&b| b != 0) {
            return false;
        }
        at += n as u64;
    }
    true
}

/// Base offsets of the `.log` files in `dir`, after removing leftovers of interrupted
/// operations and indexes whose log is gone.
fn list_segments(dir: &Path) -> io::Result<Vec<i64>> {
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if LEFTOVER_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            std::fs::remove_file(entry.path())?;
            continue;
        }
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        let Ok(base) = stem.parse::<i64>() else { continue };
        match ext {
            "log" => bases.push(base),
            "index" | "timeindex" => indexes.push((base, entry.path())),
            _ => {}
        }
    }
    let logs: std::collections::HashSet<i64> = bases.iter().copied().collect();
    for (base, path) in indexes {
        if !logs.contains(&base) {
            std::fs::remove_file(path)?;
        }
    }
    Ok(bases)
}
