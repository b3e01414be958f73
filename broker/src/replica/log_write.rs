//! Where a log write runs. The usual append is a copy into the page cache of a few
//! KiB to a MiB: handing it to a blocking thread and back costs two context switches
//! and two wake-ups per request, more than the copy (measured: a single producer
//! connection's requests queued 2 ms deep behind those hand-offs at 7,000 requests/s,
//! with the handler's own time at 0.09 ms). Such writes run in place on the
//! connection's task, as Kafka's request handlers write on their own threads. A write
//! that may wait on the disk (an fsync by `flush.messages`), or copies more than
//! [`IN_PLACE_MAX_BYTES`], still goes to a blocking thread. A segment roll (new files,
//! once per `segment.bytes`) happens in place with the append that causes it.

use std::sync::Arc;

use super::Partition;

/// Above this, a write's copy alone would hold an async worker for too long.
pub const IN_PLACE_MAX_BYTES: usize = 1 << 20;

/// Whether writing `bytes` to these partitions is only a copy into the page cache.
pub fn in_place<'a>(partitions: impl IntoIterator<Item = &'a Arc<Partition>>, bytes: usize) -> bool {
    bytes <= IN_PLACE_MAX_BYTES
        && partitions
            .into_iter()
            .all(|partition| partition.log.config().flush_messages == i64::MAX)
}

/// Runs `write` in place or on a blocking thread (see the module); `None` if the
/// blocking task died.
pub async fn run<T: Send + 'static>(in_place: bool, write: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if in_place {
        return Some(write());
    }
    tokio::task::spawn_blocking(write).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{LogConfig, LogOffsets, PartitionLog, TopicPartition};
    use crate::replica::partition_tests::state;

    fn partition(dir: &std::path::Path, flush_messages: i64) -> Arc<Partition> {
        let config = LogConfig {
            flush_messages,
            ..LogConfig::default()
        };
        let log = Arc::new(PartitionLog::open(dir, config, LogOffsets::default(), true).unwrap());
        Arc::new(Partition::new(
            TopicPartition::new("t", 0),
            uuid::Uuid::nil(),
            log,
            1,
            &state(&[1], 0),
        ))
    }

    #[test]
    fn only_small_writes_that_never_fsync_run_in_place() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let buffered = partition(a.path(), i64::MAX);
        let synced = partition(b.path(), 1);
        assert!(in_place([&buffered], 16 * 1024));
        assert!(in_place([&buffered], IN_PLACE_MAX_BYTES));
        assert!(!in_place([&buffered], IN_PLACE_MAX_BYTES + 1), "a large copy");
        assert!(!in_place([&buffered, &synced], 100), "flush.messages may fsync");
        assert!(in_place(std::iter::empty(), 0), "nothing to write");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_runs_in_place_or_on_another_thread() {
        let here = std::thread::current().id();
        assert_eq!(run(true, move || std::thread::current().id()).await, Some(here));
        let there = run(false, move || std::thread::current().id()).await.unwrap();
        assert_ne!(there, here);
        assert_eq!(run(false, || panic!("the write failed")).await, None::<()>);
    }
}
