//! The leader's replication bookkeeping on a real log: high watermark, ISR proposals,
//! `min.insync.replicas`, leader-epoch checks.

use std::sync::Arc;

use brook_protocol::ErrorCode;
use brook_protocol::records::{BatchBuilder, Compression};
use brook_protocol::rpc::metadata::PartitionState;
use bytes::BytesMut;

use super::{AppendError, Partition};
use crate::log::{LogConfig, LogOffsets, PartitionLog, TopicPartition};

pub(super) fn state(isr: &[i32], partition_epoch: i32) -> PartitionState {
    PartitionState {
        partition: 0,
        replicas: vec![1, 2, 3],
        isr: isr.to_vec(),
        leader: 1,
        leader_epoch: 4,
        partition_epoch,
    }
}

/// Broker 1 leading a fresh log with `min.insync.replicas = 2`.
pub(super) fn leader(dir: &std::path::Path, isr: &[i32]) -> Partition {
    let config = LogConfig {
        min_insync_replicas: 2,
        ..LogConfig::default()
    };
    let log = Arc::new(PartitionLog::open(dir, config, LogOffsets::default(), true).unwrap());
    Partition::new(TopicPartition::new("t", 0), uuid::Uuid::nil(), log, 1, &state(isr, 0))
}

pub(super) fn records(n: usize) -> BytesMut {
    let mut builder = BatchBuilder::new(Compression::None);
    for _ in 0..n {
        builder.append(0, None, Some(b"v"), &[]);
    }
    let mut out = BytesMut::new();
    builder.build_into(&mut out).unwrap();
    out
}

#[test]
fn the_high_watermark_waits_for_every_isr_member() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2, 3]);
    p.append_as_leader(&records(10), true).unwrap();
    assert_eq!(p.log.high_watermark(), 0, "no follower has fetched");
    assert!(!p.record_follower_fetch(2, 10, 0));
    assert!(p.record_follower_fetch(3, 5, 0));
    assert_eq!(p.log.high_watermark(), 5);
    assert!(p.record_follower_fetch(3, 10, 0));
    assert_eq!(p.log.high_watermark(), 10);
    assert!(!p.record_follower_fetch(9, 10, 0), "not a replica");
}

/// Appenders race to publish the high watermark: each one's candidate is the log end it
/// saw, and a slower, smaller candidate must not move the mark back below records
/// another append already published (a check followed by a store could; the window is
/// a few instructions wide, so this test catches it only under preemption).
#[test]
fn concurrent_appends_never_move_the_high_watermark_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1]);
    let batch = records(10);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..2000 {
                    let appended = p.append_as_leader(&batch, false).unwrap();
                    let high_watermark = p.log.high_watermark();
                    assert!(
                        high_watermark > appended.info.last_offset,
                        "high watermark {high_watermark} below an append ending at {}",
                        appended.info.last_offset
                    );
                }
            });
        }
    });
    assert_eq!(p.log.high_watermark(), 4 * 2000 * 10);
    assert_eq!(p.log.log_end_offset(), 4 * 2000 * 10);
}

#[test]
fn the_high_watermark_is_raised_never_lowered_by_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2]);
    p.append_as_leader(&records(10), false).unwrap();
    assert!(p.log.raise_high_watermark(8));
    assert!(!p.log.raise_high_watermark(5), "a smaller candidate is ignored");
    assert!(!p.log.raise_high_watermark(8));
    assert_eq!(p.log.high_watermark(), 8);
    assert!(p.log.raise_high_watermark(10));
    assert_eq!(p.log.high_watermark(), 10);
}

#[test]
fn laggards_leave_the_isr_and_caught_up_followers_join_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2, 3]);
    p.append_as_leader(&records(10), true).unwrap();
    let start = crate::log::now_ms();
    p.record_follower_fetch(2, 10, start);
    p.record_follower_fetch(3, 4, start);
    let live = |_| true;
    assert_eq!(p.wanted_isr(start + 500, 1000, live), None, "within the lag time");
    // 2 keeps fetching at the end; 3 stays behind.
    p.record_follower_fetch(2, 10, start + 2000);
    assert_eq!(p.wanted_isr(start + 2000, 1000, live), Some(vec![1, 2]));
    p.set_pending_isr(Some(vec![1, 2]));
    assert_eq!(p.wanted_isr(start + 2000, 1000, live), None, "one change at a time");
    p.update(&state(&[1, 2], 1));
    assert_eq!(p.role().isr, vec![1, 2]);

    // 3 catches up to the high watermark: it may join, once it is live.
    p.record_follower_fetch(3, 10, start + 3000);
    assert_eq!(p.wanted_isr(start + 3000, 1000, |b| b != 3), None);
    assert_eq!(p.wanted_isr(start + 3000, 1000, live), Some(vec![1, 2, 3]));
}

#[test]
fn a_joining_follower_holds_the_high_watermark_until_the_controller_decides() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2]);
    p.append_as_leader(&records(5), true).unwrap();
    p.record_follower_fetch(2, 5, 0);
    p.record_follower_fetch(3, 5, 0);
    assert_eq!(p.log.high_watermark(), 5);
    p.set_pending_isr(Some(vec![1, 2, 3]));
    p.append_as_leader(&records(5), true).unwrap();
    p.record_follower_fetch(2, 10, 0);
    assert_eq!(p.log.high_watermark(), 5, "3 is being added and has not fetched past 5");
    p.record_follower_fetch(3, 10, 0);
    assert_eq!(p.log.high_watermark(), 10);
}

#[test]
fn acks_all_needs_min_insync_replicas_and_stale_epochs_are_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1]);
    assert!(matches!(
        p.append_as_leader(&records(1), true),
        Err(AppendError::NotEnoughReplicas { isr: 1, min: 2 })
    ));
    assert!(
        p.append_as_leader(&records(1), false).is_ok(),
        "acks=1 needs only the leader"
    );
    assert!(!p.has_min_isr());
    assert_eq!(p.check_leader_epoch(4), Ok(()));
    assert_eq!(p.check_leader_epoch(-1), Ok(()));
    assert_eq!(p.check_leader_epoch(3), Err(ErrorCode::FencedLeaderEpoch));
    assert_eq!(p.check_leader_epoch(5), Err(ErrorCode::UnknownLeaderEpoch));
}

#[test]
fn replicas_added_under_the_same_leader_are_tracked_and_can_join_the_isr() {
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2, 3]);
    p.append_as_leader(&records(10), true).unwrap();
    let now = crate::log::now_ms();
    p.record_follower_fetch(2, 10, now);
    // A reassignment adds 4 (replicas 4, 2, 1, 3 while it runs); the leader stays.
    let mut moving = state(&[1, 2, 3], 1);
    moving.replicas = vec![4, 2, 1, 3];
    p.update(&moving);
    p.record_follower_fetch(3, 10, now);
    assert!(
        !p.record_follower_fetch(4, 10, now),
        "the high watermark is already at the end"
    );
    assert_eq!(p.log.high_watermark(), 10, "2 kept the progress it had");
    assert_eq!(p.wanted_isr(now, 1000, |_| true), Some(vec![4, 2, 1, 3]));
    // The move completes without 3: it is no longer tracked.
    let mut done = state(&[1, 2, 4], 2);
    done.replicas = vec![4, 2, 1];
    p.update(&done);
    assert!(!p.record_follower_fetch(3, 10, now), "3 is no longer a replica");
}

#[test]
fn consumers_read_to_the_high_watermark_followers_to_the_log_end_at_the_leaders_epoch() {
    use super::Reader;
    let dir = tempfile::tempdir().unwrap();
    let p = leader(dir.path(), &[1, 2]);
    p.append_as_leader(&records(5), true).unwrap();
    let consumer = p.read_as_leader(Reader::Consumer, 0, 1 << 20, true).unwrap();
    assert_eq!(consumer.high_watermark, 0);
    assert!(
        consumer.records.unwrap().is_empty(),
        "nothing below the high watermark yet"
    );
    let follower = Reader::Follower {
        current_leader_epoch: 4,
    };
    let copied = p.read_as_leader(follower, 0, 1 << 20, true).unwrap();
    assert_eq!(
        copied.records.unwrap().len(),
        1,
        "the follower sees the unreplicated batch"
    );
    let stale = Reader::Follower {
        current_leader_epoch: 3,
    };
    assert_eq!(
        p.read_as_leader(stale, 0, 1 << 20, true).unwrap_err(),
        ErrorCode::FencedLeaderEpoch
    );

    // Out of range: the error goes with the log start, so a follower can start over.
    p.record_follower_fetch(2, 5, 0);
    assert_eq!(p.log.advance_log_start_offset(3).unwrap(), 3);
    let behind = p.read_as_leader(follower, 1, 1 << 20, true).unwrap();
    assert_eq!(behind.records.unwrap_err(), ErrorCode::OffsetOutOfRange);
    assert_eq!(behind.log_start_offset, p.log.log_start_offset());
    assert!(behind.log_start_offset > 1);

    p.update(&PartitionState {
        leader: 2,
        leader_epoch: 5,
        ..state(&[1, 2], 1)
    });
    assert_eq!(
        p.read_as_leader(Reader::Consumer, 0, 1 << 20, true).unwrap_err(),
        ErrorCode::NotLeaderOrFollower
    );
}
