//! A partition directory remembers its topic's id (`partition.metadata`) across
//! restarts: the same topic keeps its records, a topic deleted and created again under
//! the same name while the broker was away starts empty.

use super::move_tests::{broker, image_of};
use super::partition_tests::records;
use crate::log::TopicPartition;

#[test]
fn a_restart_keeps_the_records_of_the_same_topic_and_drops_those_of_an_older_one() {
    let root = tempfile::tempdir().unwrap();
    let dirs = vec![root.path().to_path_buf()];
    let tp = TopicPartition::new("reborn", 0);
    let first = uuid::Uuid::new_v4();
    let log_end = |replicas: &super::ReplicaManager| replicas.get("reborn", 0).unwrap().log.log_end_offset();

    let (logs, replicas) = broker(&dirs);
    replicas.apply_metadata(&image_of("reborn", first));
    replicas
        .get("reborn", 0)
        .unwrap()
        .append_as_leader(&records(7), false)
        .unwrap();
    logs.shutdown().unwrap();
    drop((replicas, logs));

    let (logs, replicas) = broker(&dirs);
    assert_eq!(logs.get(&tp).unwrap().topic_id(), Some(first), "read back at open");
    replicas.apply_metadata(&image_of("reborn", first));
    assert_eq!(log_end(&replicas), 7, "the same topic keeps its records");
    logs.shutdown().unwrap();
    drop((replicas, logs));

    let second = uuid::Uuid::new_v4();
    let (logs, replicas) = broker(&dirs);
    replicas.apply_metadata(&image_of("reborn", second));
    assert_eq!(log_end(&replicas), 0, "a new topic of the same name starts empty");
    assert_eq!(logs.get(&tp).unwrap().topic_id(), Some(second));
    logs.shutdown().unwrap();
    drop((replicas, logs));

    let (logs, _replicas) = broker(&dirs);
    assert_eq!(logs.get(&tp).unwrap().topic_id(), Some(second), "the new id is on disk");
}
