//! The partition log's contract, on real files in temp dirs.

mod common;

use brook_broker::log::{LogError, LogOffsets, PartitionLog};
use brook_protocol::records::{BatchView, Compression};
use common::*;

#[test]
fn appends_get_dense_offsets_and_read_back_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let mut written = Vec::new();
    for i in 0..50 {
        let records = 1 + i % 4;
        let info = log.append_as_leader(&batch(records, 100, 1000 + i as i64), 7).unwrap();
        assert_eq!(info.first_offset, written.iter().map(|(_, n)| *n as i64).sum::<i64>());
        assert_eq!(info.last_offset - info.first_offset + 1, records as i64);
        written.push((info.first_offset, records));
    }
    assert!(log.segment_count() > 3, "small segments roll");
    let batches = read_all(&log, 0);
    assert_eq!(batches.len(), 50);
    for ((offset, bytes), (expected, _)) in batches.iter().zip(&written) {
        let view = BatchView::new(bytes).unwrap();
        assert_eq!(*offset, *expected);
        assert_eq!(view.partition_leader_epoch(), 7);
        view.validate().expect("CRC still valid after offset assignment");
    }
}

#[test]
fn reads_honour_max_bytes_upper_bound_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..10 {
        log.append_as_leader(&batch(2, 50, i), 0).unwrap();
    }
    let one = batch(2, 50, 0).len();
    // At least one batch even when max_bytes is smaller (KIP-74).
    let chunks = log.read(0, 1, i64::MAX).unwrap();
    assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), one);
    // A read from the middle of a batch starts at that batch.
    let chunks = log.read(5, one * 2, i64::MAX).unwrap();
    assert_eq!(base_offset(&chunks[0]), 4);
    assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), one * 2);
    // Nothing at or above the upper bound (a high watermark).
    let chunks = log.read(0, 1 << 20, 6).unwrap();
    let last = chunks.last().unwrap();
    assert!(common::read_all(&log, 0).len() == 10);
    assert_eq!(
        brook_protocol::records::Batches::new(last)
            .last()
            .unwrap()
            .unwrap()
            .next_offset(),
        6
    );
    assert!(log.read(20, 100, i64::MAX).unwrap().is_empty());
    assert!(matches!(
        log.read(21, 100, i64::MAX),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn corrupt_and_oversized_record_sets_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config();
    config.max_message_bytes = 1000;
    let log = open(dir.path(), config);
    let mut bad = batch(3, 10, 0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(log.append_as_leader(&bad, 0), Err(LogError::Corrupt(_))));
    assert!(matches!(
        log.append_as_leader(&batch(1, 2000, 0), 0),
        Err(LogError::TooLarge { .. })
    ));
    assert!(matches!(log.append_as_leader(&[], 0), Err(LogError::Corrupt(_))));
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn clean_close_and_reopen_resumes_without_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..40 {
        log.append_as_leader(&batch(3, 64, i), 1).unwrap();
    }
    let before = read_all(&log, 0);
    assert!(log.close().unwrap());
    drop(log);
    let offsets = LogOffsets {
        recovery_point: 120,
        ..LogOffsets::default()
    };
    let log = PartitionLog::open(dir.path(), small_config(), offsets, true).unwrap();
    assert_eq!(log.log_end_offset(), 120);
    assert_eq!(read_all(&log, 0), before);
    let info = log.append_as_leader(&batch(1, 64, 99), 2).unwrap();
    assert_eq!(info.first_offset, 120);
    assert_eq!(
        log.leader_epochs()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect::<Vec<_>>(),
        vec![(1, 0), (2, 120)]
    );
}

#[test]
fn truncation_starts_a_new_segment_and_bytes_already_read_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..20 {
        log.append_as_leader(&batch(2, 40, i), 3).unwrap();
    }
    let held = log.read(30, 1 << 20, i64::MAX).unwrap();
    let held_copy: Vec<Vec<u8>> = held.iter().map(|b| b.to_vec()).collect();
    assert!(log.truncate_to(31).unwrap());
    // Offset 31 is inside the batch 30..=31: the whole batch goes.
    assert_eq!(log.log_end_offset(), 30);
    log.append_as_leader(&batch(5, 40, 100), 4).unwrap();
    assert_eq!(
        held.iter().map(|b| b.to_vec()).collect::<Vec<_>>(),
        held_copy,
        "held bytes unchanged"
    );
    let batches = read_all(&log, 0);
    assert_eq!(batches.last().unwrap().0, 30);
    assert_eq!(log.end_offset_for_epoch(3), (3, 30));
    assert_eq!(log.end_offset_for_epoch(4), (4, 35));
}

#[test]
fn follower_appends_keep_the_leaders_offsets_and_epochs() {
    let leader_dir = tempfile::tempdir().unwrap();
    let follower_dir = tempfile::tempdir().unwrap();
    let leader = open(leader_dir.path(), small_config());
    let follower = open(follower_dir.path(), small_config());
    for (i, epoch) in [(0, 1), (1, 1), (2, 5), (3, 6)] {
        leader.append_as_leader(&batch(3, 30, i), epoch).unwrap();
    }
    let mut next = 0;
    while next < leader.log_end_offset() {
        for chunk in leader.read(next, 200, i64::MAX).unwrap() {
            next = follower.append_as_follower(&chunk).unwrap().last_offset + 1;
        }
    }
    assert_eq!(read_all(&follower, 0), read_all(&leader, 0));
    assert_eq!(follower.leader_epochs(), leader.leader_epochs());
    let stale = leader.read(0, 1, i64::MAX).unwrap();
    assert!(matches!(
        follower.append_as_follower(&stale[0]),
        Err(LogError::NonMonotonicOffsets { .. })
    ));
}

#[test]
fn timestamps_find_the_first_record_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..30 {
        // Batch i holds timestamps 1000*i .. 1000*i + 3.
        let compression = if i % 2 == 0 {
            Compression::None
        } else {
            Compression::Lz4
        };
        log.append_as_leader(&batch_with(compression, 4, 20, 1000 * i), 0)
            .unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(5002).unwrap(), Some((22, 5002)));
    assert_eq!(log.offset_for_timestamp(7003).unwrap(), Some((31, 7003)));
    assert_eq!(log.offset_for_timestamp(7004).unwrap(), Some((32, 8000)));
    assert_eq!(log.offset_for_timestamp(29_004).unwrap(), None);
    assert_eq!(log.max_timestamp_offset().unwrap(), Some((119, 29_003)));
}

#[test]
fn concurrent_readers_only_ever_see_whole_valid_batches() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(open(dir.path(), small_config()));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (log, done) = (log.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checked = 0u64;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let end = log.log_end_offset();
                    let mut next = 0;
                    while next < end {
                        for chunk in log.read(next, 8192, end).unwrap() {
                            let mut batches = brook_protocol::records::Batches::new(&chunk);
                            for batch in &mut batches {
                                let batch = batch.unwrap();
                                batch.validate().expect("a published batch is whole and valid");
                                assert_eq!(batch.base_offset(), next, "offsets are dense");
                                next = batch.next_offset();
                                checked += 1;
                            }
                            assert!(batches.remainder().is_empty(), "no partial batch is handed out");
                        }
                    }
                }
                checked
            })
        })
        .collect();
    for i in 0..3000 {
        log.append_as_leader(&batch(1 + i % 5, 30 + i % 200, i as i64), 0)
            .unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
}

#[test]
fn producer_state_is_rebuilt_on_open_and_kept_by_followers_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    log.append_as_leader(&producer_batch(5, 0, 0, 2), 0).unwrap();
    let second = log.append_as_leader(&producer_batch(5, 0, 2, 2), 0).unwrap();
    // Other data until a roll, so the producer's batches are behind the active segment.
    while log.segment_count() < 2 {
        log.append_as_leader(&batch(4, 200, 0), 0).unwrap();
    }
    log.close().unwrap();
    drop(log);

    let log = open(dir.path(), small_config());
    assert_eq!(log.producer_count(), 1, "rebuilt from the batch headers");
    let retry = log.append_as_leader(&producer_batch(5, 0, 2, 2), 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!(
        (retry.first_offset, retry.last_offset),
        (second.first_offset, second.last_offset)
    );
    let end = log.log_end_offset();
    assert!(matches!(
        log.append_as_leader(&producer_batch(5, 0, 9, 1), 0),
        Err(LogError::Sequence(_))
    ));
    assert_eq!(log.log_end_offset(), end, "a refused batch writes nothing");

    // A follower records what it copies; truncation forgets what it cuts.
    let follower_dir = tempfile::tempdir().unwrap();
    let follower = open(follower_dir.path(), small_config());
    for (base, bytes) in read_all(&log, 0) {
        assert_eq!(follower.log_end_offset(), base);
        follower.append_as_follower(&bytes).unwrap();
    }
    assert!(
        follower
            .append_as_leader(&producer_batch(5, 0, 2, 2), 1)
            .unwrap()
            .duplicate
    );
    follower.truncate_to(second.first_offset).unwrap();
    let again = follower.append_as_leader(&producer_batch(5, 0, 2, 2), 1).unwrap();
    assert!(!again.duplicate, "the cut batch is written again");
    assert_eq!(again.first_offset, second.first_offset);
}

#[test]
fn a_follower_behind_its_leaders_log_start_starts_over_there() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for _ in 0..5 {
        log.append_as_leader(&batch(2, 50, 0), 3).unwrap();
    }
    assert!(matches!(
        log.truncate_fully_and_start_at(10),
        Err(LogError::NonMonotonicOffsets { .. })
    ));
    log.truncate_fully_and_start_at(100).unwrap();
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset(), log.high_watermark()),
        (100, 100, 100)
    );
    assert!(log.leader_epochs().is_empty());
    // Empty, it may move back to take whole a batch its leader's start falls inside.
    assert!(
        log.truncate_fully_and_start_at(100).is_err(),
        "the active segment's own name"
    );
    log.truncate_fully_and_start_at(98).unwrap();
    let mut copied = batch(5, 50, 0);
    brook_protocol::records::assign_offsets(&mut copied, 98, 4).unwrap();
    log.append_as_follower(&copied).unwrap();
    assert_eq!(log.log_end_offset(), 103);
    assert_eq!(log.segment_count(), 1, "the old segments are gone");
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), small_config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (98, 103));
    assert_eq!(read_all(&log, 98).len(), 1);
}
