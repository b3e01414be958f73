//! Moving a replica between data dirs (AlterReplicaLogDirs) on real logs: the records,
//! offsets and role survive the move and a restart, and a bad request moves nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use brook_protocol::rpc::metadata::{MetadataImage, PartitionState, TopicState};

use super::partition_tests::records;
use super::{ReplicaManager, ReplicaMove};
use crate::log::{LogConfig, LogManager, LogManagerConfig, TopicPartition};

fn image() -> MetadataImage {
    image_of("moving", uuid::Uuid::new_v4())
}

/// One topic of one partition led by broker 1.
pub(super) fn image_of(name: &str, topic_id: uuid::Uuid) -> MetadataImage {
    let partition = PartitionState {
        partition: 0,
        replicas: vec![1],
        isr: vec![1],
        leader: 1,
        leader_epoch: 3,
        partition_epoch: 0,
    };
    let topic = TopicState {
        topic_id,
        name: name.into(),
        configs: BTreeMap::new(),
        partitions: vec![partition],
    };
    MetadataImage {
        version: 1,
        topics: [(topic_id, topic)].into(),
        ..Default::default()
    }
}

pub(super) fn broker(dirs: &[std::path::PathBuf]) -> (Arc<LogManager>, ReplicaManager) {
    let logs = LogManager::open(LogManagerConfig::new(dirs.to_vec())).unwrap();
    let replicas = ReplicaManager::new(1, Arc::clone(&logs), LogConfig::default());
    (logs, replicas)
}

#[test]
fn a_moved_replica_keeps_its_records_offsets_and_role_across_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let dirs = vec![root.path().join("a"), root.path().join("b")];
    let image = image();
    let tp = TopicPartition::new("moving", 0);
    let (logs, replicas) = broker(&dirs);
    replicas.apply_metadata(&image);
    let before = replicas.get("moving", 0).unwrap();
    before.append_as_leader(&records(7), false).unwrap();
    let from = logs.dir_of(&tp).unwrap();
    let to = dirs.iter().find(|d| **d != from).unwrap().clone();
    let moved = replicas.moves();

    let unknown = root.path().join("elsewhere");
    assert_eq!(
        replicas.move_replica(&tp, unknown.to_str().unwrap(), &image),
        ReplicaMove::UnknownDir
    );
    let arriving = TopicPartition::new("moving", 1);
    assert_eq!(
        replicas.move_replica(&arriving, to.to_str().unwrap(), &image),
        ReplicaMove::NotHosted
    );
    assert_eq!(
        replicas.move_replica(&tp, from.to_str().unwrap(), &image),
        ReplicaMove::AlreadyThere
    );
    assert!(!moved.has_changed().unwrap(), "nothing moved yet");

    assert_eq!(
        replicas.move_replica(&tp, to.to_str().unwrap(), &image),
        ReplicaMove::Moved
    );
    assert!(moved.has_changed().unwrap(), "the fetchers hear of the move");
    assert_eq!(logs.dir_of(&tp), Some(to.clone()));
    assert!(!from.join(tp.to_string()).exists(), "nothing is left behind");
    assert!(
        before.append_as_leader(&records(1), false).is_err(),
        "the old partition is closed"
    );
    let after = replicas.get("moving", 0).unwrap();
    assert!(after.is_leader(), "it leads again at once");
    assert_eq!(after.log.log_end_offset(), 7);
    after.append_as_leader(&records(2), false).unwrap();
    let read: usize = after.log.read(0, 1 << 20, 9).unwrap().iter().map(|b| b.len()).sum();
    assert_eq!(read, records(7).len() + records(2).len(), "both batches read back");
    drop((before, after, replicas));
    logs.shutdown().unwrap();
    drop(logs);

    let (logs, replicas) = broker(&dirs);
    assert_eq!(logs.dir_of(&tp), Some(to.clone()), "found where it moved to");
    replicas.apply_metadata(&image);
    assert_eq!(replicas.get("moving", 0).unwrap().log.log_end_offset(), 9);
    drop(replicas);
    logs.shutdown().unwrap();
    drop(logs);

    // A dir asked for a replica not here yet is where its log is created when it comes
    // (the least loaded dir would be the other one: `to` holds partition 0).
    let (logs, replicas) = broker(&dirs);
    assert_eq!(
        replicas.move_replica(&arriving, to.to_str().unwrap(), &image),
        ReplicaMove::NotHosted
    );
    let mut grown = image.clone();
    let topic = grown.topics.values_mut().next().unwrap();
    let mut second = topic.partitions[0].clone();
    second.partition = 1;
    topic.partitions.push(second);
    grown.version += 1;
    replicas.apply_metadata(&grown);
    assert_eq!(logs.dir_of(&arriving), Some(to));
}
