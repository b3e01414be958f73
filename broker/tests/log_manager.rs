//! The log manager: data dirs, create/delete, checkpoints, clean shutdown, and the
//! background flusher and retention, on real files.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_broker::log::{LogConfig, LogManager, LogManagerConfig, PartitionLog, TopicPartition};
use common::*;

fn manager_config(dir: &Path) -> LogManagerConfig {
    let mut config = LogManagerConfig::new(vec![dir.to_path_buf()]);
    config.log_config = small_config();
    config
}

/// A manager whose background work (flush checks, retention, removal of deleted
/// partitions) runs every few milliseconds instead of every few minutes.
fn fast_manager(dir: &Path) -> Arc<LogManager> {
    let mut config = manager_config(dir);
    config.flush_check_interval = Duration::from_millis(10);
    config.retention_check_interval = Duration::from_millis(20);
    config.file_delete_delay = Duration::from_millis(50);
    LogManager::open(config).unwrap()
}

/// Polls `condition` every 10 ms for up to 10 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn partitions_survive_a_clean_restart_with_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let tp = TopicPartition::new("orders", 3);
    let written = {
        let manager = LogManager::open(manager_config(dir.path())).unwrap();
        let log = manager.get_or_create(&tp, None).unwrap();
        for i in 0..30 {
            log.append_as_leader(&batch(2, 50, i), 1).unwrap();
        }
        log.set_high_watermark(40);
        log.advance_log_start_offset(10).unwrap();
        let written = read_all(&log, 10);
        manager.shutdown().unwrap();
        written
    };
    assert!(dir.path().join(".brook_cleanshutdown").exists());
    let recovery_points = std::fs::read_to_string(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert!(
        recovery_points.lines().any(|l| l == "orders 3 60"),
        "the file system was synced, so the whole log is below the recovery point: {recovery_points:?}"
    );
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    assert!(manager.was_clean());
    assert!(
        !dir.path().join(".brook_cleanshutdown").exists(),
        "the marker is consumed at startup"
    );
    let log = manager.get(&tp).expect("reopened");
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(log.high_watermark(), 40);
    assert_eq!(log.log_start_offset(), 10);
    assert_eq!(log.recovery_point(), 60);
    assert_eq!(read_all(&log, 10), written);
}

#[test]
fn an_unclean_stop_is_recovered_with_every_written_record() {
    let dir = tempfile::tempdir().unwrap();
    let tp = TopicPartition::new("t", 0);
    let written = {
        let manager = LogManager::open(manager_config(dir.path())).unwrap();
        let log = manager.get_or_create(&tp, None).unwrap();
        for i in 0..50 {
            log.append_as_leader(&batch(1, 80, i), 0).unwrap();
        }
        read_all(&log, 0)
        // Dropped without shutdown: no marker, preallocated tails left in place.
    };
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    assert!(!manager.was_clean());
    assert_eq!(read_all(&manager.get(&tp).unwrap(), 0), written);
}

#[test]
fn a_data_dir_is_locked_against_a_second_broker() {
    let dir = tempfile::tempdir().unwrap();
    let _first = LogManager::open(manager_config(dir.path())).unwrap();
    let second = LogManager::open(manager_config(dir.path()));
    assert!(second.is_err_and(|e| e.to_string().contains("locked")));
}

#[test]
fn deleted_partitions_are_renamed_at_once_and_removed_later() {
    let dir = tempfile::tempdir().unwrap();
    let manager = fast_manager(dir.path());
    let tp = TopicPartition::new("doomed", 0);
    let log = manager.get_or_create(&tp, None).unwrap();
    log.append_as_leader(&batch(1, 10, 0), 0).unwrap();
    let held = log.read(0, 100, i64::MAX).unwrap();
    assert!(manager.delete(&tp).unwrap());
    assert!(manager.get(&tp).is_none());
    assert!(!dir.path().join("doomed-0").exists());
    assert!(
        log.append_as_leader(&batch(1, 10, 0), 0).is_err(),
        "a deleted log takes no appends"
    );
    eventually("the renamed dir to go", || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with("-delete"))
    });
    assert_eq!(
        held[0].len(),
        batch(1, 10, 0).len(),
        "bytes handed out before the delete stay readable"
    );
    // A new partition of the same name starts empty.
    assert_eq!(manager.get_or_create(&tp, None).unwrap().log_end_offset(), 0);
}

#[test]
fn the_flusher_honours_flush_ms_and_flush_messages() {
    let dir = tempfile::tempdir().unwrap();
    let manager = fast_manager(dir.path());
    let timed = log_with(
        &manager,
        "timed",
        LogConfig {
            flush_ms: 20,
            ..small_config()
        },
    );
    let every = log_with(
        &manager,
        "every",
        LogConfig {
            flush_messages: 1,
            ..small_config()
        },
    );
    let never = manager.get_or_create(&TopicPartition::new("never", 0), None).unwrap();
    for log in [&timed, &every, &never] {
        log.append_as_leader(&batch(3, 10, 0), 0).unwrap();
    }
    assert_eq!(
        every.recovery_point(),
        3,
        "flush.messages=1 flushes before the append returns"
    );
    eventually("flush.ms to flush", || timed.recovery_point() == 3);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(never.recovery_point(), 0, "default flush settings leave it to the OS");
}

#[test]
fn the_flusher_flushes_rolled_segments() {
    let dir = tempfile::tempdir().unwrap();
    let manager = fast_manager(dir.path());
    let log = manager.get_or_create(&TopicPartition::new("t", 0), None).unwrap();
    for i in 0..100 {
        log.append_as_leader(&batch(1, 100, i), 0).unwrap();
    }
    assert!(log.segment_count() > 2);
    let rolled_up_to = {
        log.roll().unwrap();
        log.log_end_offset()
    };
    eventually("rolled segments to reach the disk", || {
        log.recovery_point() == rolled_up_to
    });
}

#[test]
fn retention_by_bytes_and_by_time_deletes_whole_segments_from_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let manager = fast_manager(dir.path());
    let by_bytes = log_with(
        &manager,
        "bytes",
        LogConfig {
            retention_bytes: 8192,
            ..small_config()
        },
    );
    let by_time = log_with(
        &manager,
        "time",
        LogConfig {
            retention_ms: 60_000,
            ..small_config()
        },
    );
    let now = brook_now_ms();
    for i in 0..200 {
        by_bytes.append_as_leader(&batch(1, 100, now), 0).unwrap();
        // The first 100 records are two hours old, the rest current.
        let ts = if i < 100 { now - 7_200_000 } else { now };
        by_time.append_as_leader(&batch(1, 100, ts), 0).unwrap();
    }
    for log in [&by_bytes, &by_time] {
        log.set_high_watermark(log.log_end_offset());
    }
    eventually("retention by bytes", || by_bytes.size_bytes() <= 8192 + 4096);
    assert!(
        by_bytes.size_bytes() > 8192 - 4096,
        "only whole segments go, and not too many"
    );
    assert_eq!(
        read_all(&by_bytes, by_bytes.log_start_offset()).first().unwrap().0,
        by_bytes.log_start_offset()
    );
    eventually("retention by time", || by_time.log_start_offset() > 0);
    let start = by_time.log_start_offset();
    assert!(start <= 100, "current records are kept (start {start})");
    assert!(start > 60, "expired segments went (start {start})");
    assert!(matches!(
        by_time.read(0, 10, i64::MAX),
        Err(brook_broker::log::LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn retention_never_passes_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    let log = log_with(
        &manager,
        "t",
        LogConfig {
            retention_bytes: 0,
            ..small_config()
        },
    );
    for i in 0..100 {
        log.append_as_leader(&batch(1, 100, i), 0).unwrap();
    }
    assert_eq!(
        log.apply_retention(brook_now_ms()).unwrap(),
        0,
        "high watermark 0 protects everything"
    );
    log.set_high_watermark(log.log_end_offset());
    assert!(log.apply_retention(brook_now_ms()).unwrap() > 0);
    assert_eq!(log.segment_count(), 1, "all but the active segment went");
}

#[test]
fn segments_roll_by_record_time() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    let log = log_with(
        &manager,
        "t",
        LogConfig {
            segment_ms: 1000,
            ..small_config()
        },
    );
    log.append_as_leader(&batch(1, 10, 10_000), 0).unwrap();
    log.append_as_leader(&batch(1, 10, 10_500), 0).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append_as_leader(&batch(1, 10, 11_001), 0).unwrap();
    assert_eq!(
        log.segment_count(),
        2,
        "a record more than segment.ms newer than the first rolls"
    );
}

#[test]
fn ten_thousand_partitions_open_at_once() {
    const PARTITIONS: i32 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let mut config = LogManagerConfig::new(vec![dir.path().to_path_buf()]);
    // Default topic settings (1 GiB segments, 10 MiB indexes): the real footprint.
    config.log_config = LogConfig::default();
    let rss_before = rss_kib();
    let started = Instant::now();
    let manager = LogManager::open(config.clone()).unwrap();
    let one = batch(1, 100, 0);
    for p in 0..PARTITIONS {
        let log = manager.get_or_create(&TopicPartition::new("many", p), None).unwrap();
        log.append_as_leader(&one, 0).unwrap();
    }
    let created = started.elapsed();
    let rss_per_partition = (rss_kib() - rss_before) * 1024 / PARTITIONS as i64;
    let (fds, maps) = (count_lines("/proc/self/fd"), count_lines("/proc/self/maps"));
    assert!(fds < 15_000, "{fds} open files");
    assert!(maps < 60_000, "{maps} mappings");
    manager.shutdown().unwrap();
    drop(manager);

    let started = Instant::now();
    let manager = LogManager::open(config.clone()).unwrap();
    let clean_open = started.elapsed();
    assert!(manager.was_clean());
    assert_eq!(manager.len(), PARTITIONS as usize);
    let mut held: Vec<Arc<_>> = Vec::new();
    for p in (0..PARTITIONS).step_by(997) {
        let log = manager.get(&TopicPartition::new("many", p)).unwrap();
        assert_eq!(log.log_end_offset(), 1);
        log.append_as_leader(&one, 0).unwrap();
        held.push(log);
    }
    drop(held);
    drop(manager); // unclean: no shutdown

    let started = Instant::now();
    let manager = LogManager::open(config).unwrap();
    let unclean_open = started.elapsed();
    assert!(!manager.was_clean());
    for p in 0..PARTITIONS {
        let expected = if p % 997 == 0 { 2 } else { 1 };
        assert_eq!(
            manager.get(&TopicPartition::new("many", p)).unwrap().log_end_offset(),
            expected
        );
    }
    eprintln!(
        "10k partitions: create+append {created:?}, resident {rss_per_partition} B/partition, \
         {fds} fds, {maps} maps, clean open {clean_open:?}, unclean open {unclean_open:?}"
    );
}

/// Partition 0 of `topic`, created with `config`.
fn log_with(manager: &LogManager, topic: &str, config: LogConfig) -> Arc<PartitionLog> {
    manager
        .get_or_create(&TopicPartition::new(topic, 0), Some(config))
        .unwrap()
}

fn brook_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn count_lines(path: &str) -> usize {
    match std::fs::read_dir(path) {
        Ok(entries) => entries.count(),
        Err(_) => std::fs::read_to_string(path).unwrap().lines().count(),
    }
}

/// Resident anonymous memory (heap, page tables aside), in KiB: the page cache of
/// mapped files is not counted.
fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn out_of_range_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    let tiny = LogConfig {
        segment_bytes: 10,
        ..LogConfig::default()
    };
    let refused = manager.get_or_create(&TopicPartition::new("t", 0), Some(tiny));
    assert!(matches!(refused, Err(brook_broker::log::LogError::InvalidConfig(_))));
    assert!(manager.is_empty());
}

#[test]
fn each_data_dir_describes_its_disk_and_the_sizes_of_its_partitions() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config = manager_config(a.path());
    config.data_dirs.push(b.path().to_path_buf());
    let manager = LogManager::open(config).unwrap();
    let orders = manager.get_or_create(&TopicPartition::new("orders", 0), None).unwrap();
    let users = manager.get_or_create(&TopicPartition::new("users", 0), None).unwrap();
    for i in 0..10 {
        orders.append_as_leader(&batch(2, 50, i), 1).unwrap();
    }
    let dirs = manager.describe_dirs();
    assert_eq!(dirs.len(), 2);
    let mut held = Vec::new();
    for dir in &dirs {
        let (total, usable) = dir.space.as_ref().copied().unwrap();
        assert!(total > 0 && usable <= total, "{dir:?}");
        for (tp, size) in &dir.partitions {
            held.push((tp.topic.clone(), *size, dir.path.clone()));
        }
    }
    held.sort();
    assert_eq!(held.len(), 2, "{dirs:?}");
    assert_eq!(held[0].1, orders.size_bytes());
    assert!(held[0].1 > 0);
    assert_eq!((held[1].0.as_str(), held[1].1), ("users", 0));
    assert_eq!(Some(held[0].2.as_path()), orders.dir().parent());
    assert_eq!(Some(held[1].2.as_path()), users.dir().parent());
}

#[test]
fn a_high_watermark_outside_the_log_is_refused_as_the_bug_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let manager = LogManager::open(manager_config(dir.path())).unwrap();
    let log = manager.get_or_create(&TopicPartition::new("bounded", 0), None).unwrap();
    log.append_as_leader(&batch(2, 50, 0), 1).unwrap();
    log.set_high_watermark(2);
    assert_eq!(log.high_watermark(), 2);
    let beyond = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| log.set_high_watermark(3)));
    assert!(beyond.is_err(), "a high watermark above the log end was accepted");
    assert_eq!(log.high_watermark(), 2, "a refused value changed nothing");
}
