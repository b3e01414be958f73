//! DescribeLogDirs: this broker's data dirs, their disks' size and free space, and the
//! size of each partition replica they hold (what `kafka-log-dirs` and
//! `kafka-reassign-partitions` read); AlterReplicaLogDirs: moving replicas between them.

use std::collections::{BTreeMap, BTreeSet};

use brook_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use brook_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use brook_protocol::messages::{
    AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName,
};
use brook_protocol::{ErrorCode, StrBytes};

use super::{Handlers, NO_ERROR};
use crate::log::{DirUsage, TopicPartition};
use crate::replica::ReplicaMove;

impl Handlers {
    pub(super) fn describe_log_dirs(&self, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
        // `None` asks for every partition; a list asks for those of its partitions that
        // are here (Kafka leaves the others out rather than answering an error).
        let wanted: Option<BTreeSet<(String, i32)>> = request.topics.map(|topics| {
            topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
                .collect()
        });
        let results = self
            .replicas
            .describe_dirs()
            .into_iter()
            .map(|dir| dir_result(dir, wanted.as_ref()))
            .collect();
        DescribeLogDirsResponse::default()
            .with_error_code(NO_ERROR)
            .with_results(results)
    }
}

impl Handlers {
    /// Moves each named replica to its named data dir, one after another, off the async
    /// workers. NONE once moved (or already there); LOG_DIR_NOT_FOUND for a dir that is
    /// not one of `log.dirs`; REPLICA_NOT_AVAILABLE for a replica this broker does not
    /// host yet, whose log will be created in that dir when it arrives (Kafka's
    /// reassignment tool retries those until then).
    pub(super) async fn alter_replica_log_dirs(
        &self,
        request: AlterReplicaLogDirsRequest,
    ) -> AlterReplicaLogDirsResponse {
        let moves: Vec<(String, TopicPartition)> = request
            .dirs
            .iter()
            .flat_map(|dir| {
                dir.topics.iter().flat_map(move |t| {
                    t.partitions
                        .iter()
                        .map(move |p| (dir.path.to_string(), TopicPartition::new(t.name.0.to_string(), *p)))
                })
            })
            .collect();
        let replicas = std::sync::Arc::clone(&self.replicas);
        let image = self.metadata.image();
        let outcomes = tokio::task::spawn_blocking(move || {
            moves
                .into_iter()
                .map(|(dir, tp)| {
                    let outcome = replicas.move_replica(&tp, &dir, &image);
                    (tp, move_error(&outcome))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut by_topic: BTreeMap<String, Vec<AlterReplicaLogDirPartitionResult>> = BTreeMap::new();
        for (tp, error_code) in outcomes {
            by_topic.entry(tp.topic).or_default().push(
                AlterReplicaLogDirPartitionResult::default()
                    .with_partition_index(tp.partition)
                    .with_error_code(error_code),
            );
        }
        let results = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                AlterReplicaLogDirTopicResult::default()
                    .with_topic_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect();
        AlterReplicaLogDirsResponse::default().with_results(results)
    }
}

fn move_error(outcome: &ReplicaMove) -> i16 {
    match outcome {
        ReplicaMove::Moved | ReplicaMove::AlreadyThere => NO_ERROR,
        ReplicaMove::UnknownDir => ErrorCode::LogDirNotFound.code(),
        ReplicaMove::NotHosted => ErrorCode::ReplicaNotAvailable.code(),
        ReplicaMove::Failed(reason) => {
            tracing::error!(%reason, "moving a replica between data dirs failed");
            ErrorCode::KafkaStorageError.code()
        }
    }
}

fn dir_result(dir: DirUsage, wanted: Option<&BTreeSet<(String, i32)>>) -> DescribeLogDirsResult {
    let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    for (tp, size) in dir.partitions {
        if wanted.is_some_and(|w| !w.contains(&(tp.topic.clone(), tp.partition))) {
            continue;
        }
        topics.entry(tp.topic).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(tp.partition)
                .with_partition_size(size as i64)
                // No replica is ever moving between dirs here (no "future" replicas).
                .with_offset_lag(0)
                .with_is_future_key(false),
        );
    }
    let result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(dir.path.display().to_string()))
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    DescribeLogDirsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name)))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    match dir.space {
        Ok((total, usable)) => result
            .with_error_code(NO_ERROR)
            .with_total_bytes(total as i64)
            .with_usable_bytes(usable as i64),
        Err(e) => {
            tracing::warn!(dir = %dir.path.display(), error = %e, "cannot read the disk's size");
            result
                .with_error_code(ErrorCode::KafkaStorageError.code())
                .with_total_bytes(-1)
                .with_usable_bytes(-1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::TopicPartition;

    fn usage() -> DirUsage {
        DirUsage {
            path: "/data/a".into(),
            space: Ok((1000, 400)),
            partitions: vec![
                (TopicPartition::new("orders", 0), 10),
                (TopicPartition::new("orders", 1), 20),
                (TopicPartition::new("users", 0), 30),
            ],
        }
    }

    fn sizes(result: &DescribeLogDirsResult) -> Vec<(String, i32, i64)> {
        result
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.0.to_string(), p.partition_index, p.partition_size))
            })
            .collect()
    }

    #[test]
    fn every_partition_or_only_those_asked_for_with_the_disks_space() {
        let all = dir_result(usage(), None);
        assert_eq!(
            sizes(&all),
            [
                ("orders".into(), 0, 10),
                ("orders".into(), 1, 20),
                ("users".into(), 0, 30)
            ]
        );
        assert_eq!((all.error_code, all.total_bytes, all.usable_bytes), (0, 1000, 400));
        assert_eq!(all.log_dir.as_str(), "/data/a");

        let wanted = BTreeSet::from([("orders".to_owned(), 1), ("missing".to_owned(), 0)]);
        assert_eq!(sizes(&dir_result(usage(), Some(&wanted))), [("orders".into(), 1, 20)]);

        let broken = DirUsage {
            space: Err(std::io::Error::other("gone")),
            ..usage()
        };
        let result = dir_result(broken, None);
        assert_eq!(result.error_code, ErrorCode::KafkaStorageError.code());
        assert_eq!(result.total_bytes, -1);
    }
}
