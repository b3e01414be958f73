//! The `acks=all` wait on real logs: acknowledged once the high watermark passes, at the
//! leader epoch of the append; never for a leader demoted meanwhile, whatever its high
//! watermark says later.

use std::sync::Arc;
use std::time::Duration;

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::PartitionState;

use super::partition_tests::{leader, records, state};
use super::{Partition, ProduceAcks, ProduceOutcome, ProducePartition, Replication, produce};

fn request(partition: &Arc<Partition>, n: usize) -> ProducePartition {
    ProducePartition {
        partition: Ok(Arc::clone(partition)),
        records: Some(records(n).freeze()),
    }
}

/// Waits (bounded) until the partition's log end reaches `offset`: the append may run on
/// a blocking thread, so this waits in real time, paused tokio clock or not.
async fn until_log_end(partition: &Partition, offset: i64) {
    let started = std::time::Instant::now();
    while partition.log.log_end_offset() < offset {
        assert!(started.elapsed() < Duration::from_secs(10), "the append never happened");
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An `acks=all` produce of `n` records to a fresh leader, once the leader has appended
/// them and holds the request.
async fn held_produce(p: &Arc<Partition>, n: usize) -> tokio::task::JoinHandle<Vec<ProduceOutcome>> {
    let waiting = tokio::spawn(produce(ProduceAcks::All, Duration::from_secs(30), vec![request(p, n)]));
    until_log_end(p, n as i64).await;
    waiting
}

/// The held produce's answer, which must come within 5 s (not at its 30 s timeout).
async fn answered(waiting: tokio::task::JoinHandle<Vec<ProduceOutcome>>) -> Vec<ProduceOutcome> {
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("answered before the request timeout")
        .expect("the produce task ran")
}

/// Broker 1 demoted: broker 2 leads at epoch 5 with ISR {2, 3}.
fn demoted(partition_epoch: i32) -> PartitionState {
    PartitionState {
        leader: 2,
        leader_epoch: 5,
        ..state(&[2, 3], partition_epoch)
    }
}

#[tokio::test]
async fn acks_all_is_answered_once_the_isr_has_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let waiting = held_produce(&p, 10).await;
    p.record_follower_fetch(2, 10, 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !waiting.is_finished(),
        "3 has not fetched: the high watermark is still 0"
    );
    p.record_follower_fetch(3, 10, 0);
    let outcomes = answered(waiting).await;
    assert_eq!(outcomes[0].result, Ok(0));
    assert_eq!(outcomes[0].appended.map(|a| a.last_offset), Some(9));
}

#[tokio::test]
async fn acks_one_is_answered_after_the_append_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let outcomes = produce(ProduceAcks::Leader, Duration::from_secs(30), vec![request(&p, 3)]).await;
    assert_eq!(outcomes[0].result, Ok(0));
    assert_eq!(p.log.high_watermark(), 0, "not replicated, yet answered");
}

#[tokio::test(start_paused = true)]
async fn acks_all_times_out_or_reports_a_shrunken_isr() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let outcomes = produce(ProduceAcks::All, Duration::from_millis(300), vec![request(&p, 2)]).await;
    assert_eq!(outcomes[0].result, Err(ErrorCode::RequestTimedOut));
    assert!(outcomes[0].appended.is_some(), "written, though not acknowledged");

    let waiting = tokio::spawn(produce(
        ProduceAcks::All,
        Duration::from_millis(300),
        vec![request(&p, 2)],
    ));
    until_log_end(&p, 4).await;
    // The ISR shrinks to the leader alone, below min.insync.replicas = 2: the high
    // watermark moves to the log end, but the acknowledgement needs the minimum.
    p.update(&state(&[1], 1));
    let outcomes: Vec<ProduceOutcome> = waiting.await.unwrap();
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotEnoughReplicasAfterAppend));
    assert_eq!(p.log.high_watermark(), 4, "the high watermark passed the records");
}

/// The lost-write bug of the fault test (issue 17, finding 1), step by step: a leader
/// holding an `acks=all` produce is demoted, truncates, refills the same offsets with
/// another producer's records from the new leader, and its high watermark passes them.
/// A wait that looks at the high watermark alone acknowledges records that exist
/// nowhere; the purgatory answers NOT_LEADER_OR_FOLLOWER at once instead.
#[tokio::test]
async fn a_demoted_leader_never_acknowledges_offsets_it_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let waiting = held_produce(&p, 10).await;
    p.record_follower_fetch(2, 4, 0);

    // Fenced by the controller: broker 2 leads at epoch 5 and took other records.
    p.update(&demoted(1));
    p.log.truncate_to(4).unwrap();
    let mut other = records(16);
    brook_protocol::records::assign_offsets(&mut other, 4, 5).unwrap();
    p.log.append_as_follower(&other).unwrap();
    p.log.set_high_watermark(20);
    assert!(
        p.log.high_watermark() > 9,
        "the high watermark alone would acknowledge offsets 0..=9"
    );

    let outcomes = answered(waiting).await;
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotLeaderOrFollower));
    assert_eq!(
        p.replication_of(4, 9),
        Replication::Lost(ErrorCode::NotLeaderOrFollower)
    );
}

#[tokio::test(start_paused = true)]
async fn a_demotion_ends_the_wait_at_once_not_at_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let started = tokio::time::Instant::now();
    let waiting = held_produce(&p, 1).await;
    p.update(&demoted(1));
    let outcomes = waiting.await.unwrap();
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotLeaderOrFollower));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_leader_that_regains_leadership_at_a_new_epoch_still_does_not_acknowledge() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let waiting = held_produce(&p, 5).await;
    // Led elsewhere and back, at epoch 6: what it appended under 4 may be gone.
    p.update(&PartitionState {
        leader: 1,
        leader_epoch: 6,
        ..state(&[1, 2, 3], 2)
    });
    p.record_follower_fetch(2, 5, 0);
    p.record_follower_fetch(3, 5, 0);
    assert_eq!(p.log.high_watermark(), 5);
    let outcomes = answered(waiting).await;
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotLeaderOrFollower));
}

#[tokio::test]
async fn each_partition_of_a_request_gets_its_own_answer() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (kept, lost) = (
        Arc::new(leader(d1.path(), &[1, 2])),
        Arc::new(leader(d2.path(), &[1, 2])),
    );
    let refused = ProducePartition {
        partition: Err(ErrorCode::UnknownTopicOrPartition),
        records: None,
    };
    let waiting = tokio::spawn(produce(
        ProduceAcks::All,
        Duration::from_secs(30),
        vec![request(&kept, 3), refused, request(&lost, 3)],
    ));
    until_log_end(&kept, 3).await;
    until_log_end(&lost, 3).await;
    kept.record_follower_fetch(2, 3, 0);
    lost.update(&demoted(1));
    let outcomes = answered(waiting).await;
    let results: Vec<_> = outcomes.iter().map(|o| o.result).collect();
    assert_eq!(
        results,
        vec![
            Ok(0),
            Err(ErrorCode::UnknownTopicOrPartition),
            Err(ErrorCode::NotLeaderOrFollower)
        ]
    );
    assert_eq!(outcomes[1].log_start_offset, -1);
}

#[tokio::test]
async fn a_removed_partition_ends_its_waits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let waiting = held_produce(&p, 2).await;
    // Deleted, moved away, or the broker stopping (ReplicaManager::shutdown).
    p.mark_removed();
    let outcomes = answered(waiting).await;
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotLeaderOrFollower));
}

/// A leader that has not heard the controller for its session (cut off, while clients
/// still reach it) may already be replaced: it answers its held produces at once and
/// takes no new writes or reads until its lease runs again.
#[tokio::test]
async fn a_lapsed_lease_ends_held_produces_and_refuses_writes_until_restored() {
    use super::Reader;
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(leader(dir.path(), &[1, 2, 3]));
    let waiting = held_produce(&p, 3).await;
    p.set_lease_lapsed(true);
    let outcomes = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcomes[0].result, Err(ErrorCode::NotLeaderOrFollower));
    let refused = produce(ProduceAcks::Leader, Duration::from_secs(1), vec![request(&p, 1)]).await;
    assert_eq!(refused[0].result, Err(ErrorCode::NotLeaderOrFollower));
    assert_eq!(
        p.read_as_leader(Reader::Consumer, 0, 1 << 20, true).unwrap_err(),
        ErrorCode::NotLeaderOrFollower
    );
    p.set_lease_lapsed(false);
    let accepted = produce(ProduceAcks::Leader, Duration::from_secs(1), vec![request(&p, 1)]).await;
    assert_eq!(accepted[0].result, Ok(3));
}
