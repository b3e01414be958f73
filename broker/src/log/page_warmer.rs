//! Brings the page-cache pages an active segment will be written into next into memory
//! ahead of the appender, on a thread of its own.
//!
//! Why: an append copies its bytes into page-cache pages, and a page the kernel has to
//! hand out first (and, on a virtual machine whose host takes freed memory back, that
//! the host has to fault in) made that copy ten times slower than one into a page
//! already there (BENCHMARKS.md, "What the machine charges for a page"). The file's
//! next bytes are allocated already (`grow_file` fallocates ahead), so reading them
//! fills the cache with zeroed pages that the append then overwrites in place. Reading
//! never changes a byte, so a read that races the appender is harmless: whichever gets
//! a page first creates it, and the append's bytes land in it either way.
//!
//! Best effort: when the warmer is behind, the appender skips a warm-up rather than wait
//! (`try_send`), and pays for the page itself as it would without the warmer.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};

/// Ranges queued for the warmer before appenders skip warm-ups.
const QUEUE: usize = 256;
/// Bytes read per call (the buffer is reused; what it holds is thrown away).
const CHUNK: usize = 256 * 1024;

/// A range of a segment file to bring into the page cache.
struct Job {
    file: Arc<File>,
    from: u64,
    to: u64,
}

/// Where an active segment's warm-up stands; kept by its writer.
#[derive(Debug)]
pub(crate) struct WarmAhead {
    /// How far ahead of the written end to keep pages ready (0: never).
    ahead: u64,
    /// Bytes below this have been handed to the warmer.
    warmed: u64,
}

impl WarmAhead {
    pub(crate) fn new(ahead: u64, written: u64) -> Self {
        WarmAhead { ahead, warmed: written }
    }

    /// After a write that ended at `end` in a file of `allocated` bytes: hands the
    /// warmer the next stretch once less than half of `ahead` is left ready. Returns
    /// whether it did.
    pub(crate) fn after_write(&mut self, file: &Arc<File>, end: u64, allocated: u64) -> bool {
        if self.ahead == 0 || self.warmed >= end + self.ahead / 2 {
            return false;
        }
        let from = self.warmed.max(end);
        let to = (end + self.ahead).min(allocated);
        if to <= from {
            return false;
        }
        let job = Job {
            file: Arc::clone(file),
            from,
            to,
        };
        match warmer().try_send(job) {
            Ok(()) => {
                self.warmed = to;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The process's warmer thread, started on first use.
fn warmer() -> &'static SyncSender<Job> {
    static WARMER: OnceLock<SyncSender<Job>> = OnceLock::new();
    WARMER.get_or_init(|| {
        let (jobs, queue) = sync_channel(QUEUE);
        // If the thread cannot start, sends fail and appends go on unwarmed.
        let _ = std::thread::Builder::new()
            .name("brook-page-warmer".into())
            .spawn(move || run(queue));
        jobs
    })
}

fn run(queue: Receiver<Job>) {
    let mut buffer = vec![0u8; CHUNK];
    while let Ok(job) = queue.recv() {
        warm(&job, &mut buffer);
    }
}

/// Reads `job`'s range, stopping at the file's end (a sealed segment is trimmed) or at
/// the first error: nothing depends on it having happened.
fn warm(job: &Job, buffer: &mut [u8]) {
    let mut at = job.from;
    while at < job.to {
        let len = buffer.len().min((job.to - at) as usize);
        match job.file.read_at(&mut buffer[..len], at) {
            Ok(0) | Err(_) => return,
            Ok(n) => at += n as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: u64) -> (tempfile::NamedTempFile, Arc<File>) {
        let named = tempfile::NamedTempFile::new().unwrap();
        named.as_file().set_len(len).unwrap();
        let file = Arc::new(named.reopen().unwrap());
        (named, file)
    }

    #[test]
    fn the_next_stretch_is_handed_over_once_half_the_window_is_used() {
        let (_named, file) = file_of(64 << 20);
        let mut warm = WarmAhead::new(8 << 20, 0);
        assert!(warm.after_write(&file, 1 << 20, 64 << 20), "nothing ready yet");
        assert_eq!(warm.warmed, 9 << 20);
        assert!(!warm.after_write(&file, 5 << 20, 64 << 20), "4 MiB still ready: no job");
        assert!(warm.after_write(&file, 6 << 20, 64 << 20));
        assert_eq!(warm.warmed, 14 << 20, "from where the last stretch ended");
    }

    #[test]
    fn warming_stops_at_the_allocated_end_and_can_be_off() {
        let (_named, file) = file_of(2 << 20);
        let mut warm = WarmAhead::new(8 << 20, 0);
        assert!(warm.after_write(&file, 1 << 20, 2 << 20));
        assert_eq!(warm.warmed, 2 << 20);
        assert!(
            !warm.after_write(&file, 2 << 20, 2 << 20),
            "nothing allocated past the end"
        );
        let mut off = WarmAhead::new(0, 0);
        assert!(!off.after_write(&file, 1 << 20, 2 << 20));
    }

    #[test]
    fn warming_changes_no_byte_even_beyond_a_trimmed_end() {
        let (named, file) = file_of(0);
        named.as_file().write_all(&[7u8; 100_000]).unwrap();
        let mut buffer = vec![0u8; CHUNK];
        warm(
            &Job {
                file: Arc::clone(&file),
                from: 0,
                to: 1 << 20,
            },
            &mut buffer,
        );
        assert_eq!(std::fs::read(named.path()).unwrap(), vec![7u8; 100_000]);
    }
}
