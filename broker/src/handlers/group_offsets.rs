//! OffsetCommit, OffsetFetch and OffsetDelete: offsets in the controller quorum, cached
//! by the coordinator, after the coordinator's generation checks.

use std::sync::Arc;

use brook_protocol::ErrorCode;
use brook_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use brook_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use brook_protocol::messages::{
    GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use brook_protocol::rpc::{CommittedOffset, OffsetCommit};

use super::groups::text;
use super::{Handlers, per_partition, wire_code};
use crate::groups::GroupOffsets;

/// Kafka's `offset.metadata.max.bytes`.
const MAX_OFFSET_METADATA: usize = 4096;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Handlers {
    pub(super) async fn offset_commit(&self, request: OffsetCommitRequest) -> OffsetCommitResponse {
        let group = request.group_id.0.to_string();
        let refusal = self.coordinating(&group).err().or_else(|| {
            self.groups
                .check_commit(
                    &group,
                    (request.member_id.as_str(), request.group_instance_id.as_deref()),
                    request.generation_id_or_member_epoch,
                )
                .err()
        });
        let mut outcomes: Vec<Vec<Option<ErrorCode>>> = request
            .topics
            .iter()
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| {
                        let too_large = p
                            .committed_metadata
                            .as_ref()
                            .is_some_and(|m| m.len() > MAX_OFFSET_METADATA);
                        refusal.or(too_large.then_some(ErrorCode::OffsetMetadataTooLarge))
                    })
                    .collect()
            })
            .collect();
        let timestamp = now_ms();
        let offsets: Vec<OffsetCommit> = request
            .topics
            .iter()
            .zip(&outcomes)
            .flat_map(|(t, outcomes)| {
                t.partitions
                    .iter()
                    .zip(outcomes)
                    .filter(|(_, refusal)| refusal.is_none())
                    .map(|(p, _)| OffsetCommit {
                        topic: t.name.0.to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                        commit_timestamp_ms: timestamp,
                    })
            })
            .collect();
        if !offsets.is_empty() {
            let mut results = match self.groups.offsets.commit(&group, offsets).await {
                Ok(codes) => {
                    self.groups.note_commits(&group);
                    codes
                }
                Err(e) => {
                    tracing::warn!(error = %e, "offset commit failed in the controller quorum");
                    Vec::new()
                }
            }
            .into_iter();
            for outcome in outcomes.iter_mut().flatten().filter(|o| o.is_none()) {
                // A commit the quorum did not confirm is retriable for the client.
                *outcome = match results.next() {
                    Some(code) => ErrorCode::try_from_code(code),
                    None => Some(ErrorCode::CoordinatorNotAvailable),
                };
            }
        }
        let mut outcomes = outcomes.into_iter().flatten();
        let topics = per_partition(
            &request.topics,
            |t| &t.partitions,
            |_, p| {
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(wire_code(outcomes.next().flatten()))
            },
            |t, partitions| {
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            },
        );
        OffsetCommitResponse::default().with_topics(topics)
    }

    pub(super) async fn offset_fetch(&self, request: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        // v8+ asks for several groups; older versions for one.
        let asks: Vec<(String, Option<AskedTopics>)> = if version >= 8 {
            request
                .groups
                .iter()
                .map(|g| {
                    let topics = g.topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                            .collect()
                    });
                    (g.group_id.0.to_string(), topics)
                })
                .collect()
        } else {
            let topics = request.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes.clone()))
                    .collect()
            });
            vec![(request.group_id.0.to_string(), topics)]
        };
        let mut answers = Vec::with_capacity(asks.len());
        for (group, topics) in asks {
            let answer = match self.coordinating(&group) {
                Err(code) => Err(code),
                Ok(()) => self.groups.offsets.fetch(&group).await.map_err(|e| {
                    tracing::warn!(error = %e, "cannot load the group's offsets from the controller quorum");
                    ErrorCode::CoordinatorLoadInProgress
                }),
            };
            answers.push((group, topics, answer));
        }
        if version >= 8 {
            let groups = answers
                .into_iter()
                .map(|(group, topics, answer)| {
                    let (error, listed) = listing(topics, answer);
                    let topics = listed
                        .into_iter()
                        .map(|(name, partitions)| {
                            let partitions = partitions
                                .into_iter()
                                .map(|(p, found)| {
                                    let (offset, epoch, metadata) = committed(found);
                                    OffsetFetchResponsePartitions::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(offset)
                                        .with_committed_leader_epoch(epoch)
                                        .with_metadata(Some(text(&metadata)))
                                })
                                .collect();
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(text(&name)))
                                .with_partitions(partitions)
                        })
                        .collect();
                    OffsetFetchResponseGroup::default()
                        .with_group_id(GroupId(text(&group)))
                        .with_topics(topics)
                        .with_error_code(wire_code(error))
                })
                .collect();
            return OffsetFetchResponse::default().with_groups(groups);
        }
        let Some((_, topics, answer)) = answers.pop() else {
            return OffsetFetchResponse::default(); // before v8 there is always one group
        };
        let (error, listed) = listing(topics, answer);
        let code = wire_code(error);
        let topics = listed
            .into_iter()
            .map(|(name, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|(p, found)| {
                        let (offset, epoch, metadata) = committed(found);
                        let partition = OffsetFetchResponsePartition::default()
                            .with_partition_index(p)
                            .with_committed_offset(offset)
                            .with_metadata(Some(text(&metadata)));
                        // The field exists from v5; older responses leave it at its default.
                        let partition = if version >= 5 {
                            partition.with_committed_leader_epoch(epoch)
                        } else {
                            partition
                        };
                        // Before v2 a group error is reported on each partition.
                        if version < 2 {
                            partition.with_error_code(code)
                        } else {
                            partition
                        }
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(text(&name)))
                    .with_partitions(partitions)
            })
            .collect();
        let response = OffsetFetchResponse::default().with_topics(topics);
        if version >= 2 {
            response.with_error_code(code)
        } else {
            response
        }
    }
}

/// Topics and partitions an OffsetFetch names (`None`: all of the group's).
type AskedTopics = Vec<(String, Vec<i32>)>;
type Listed = Vec<(String, Vec<(i32, Option<CommittedOffset>)>)>;

/// The group error, and per topic the asked partitions (or all committed ones when the
/// request named none) with what was found.
fn listing(asked: Option<AskedTopics>, answer: Result<Arc<GroupOffsets>, ErrorCode>) -> (Option<ErrorCode>, Listed) {
    let (error, found) = match answer {
        Ok(found) => (None, found),
        Err(code) => (Some(code), Arc::default()),
    };
    let lookup = |topic: String, partition: i32| found.get(&(topic, partition)).cloned();
    let listed = match asked {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions.into_iter().map(|p| (p, lookup(topic.clone(), p))).collect();
                (topic, partitions)
            })
            .collect(),
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<(i32, Option<CommittedOffset>)>> =
                std::collections::BTreeMap::new();
            for offset in found.values() {
                by_topic
                    .entry(offset.topic.clone())
                    .or_default()
                    .push((offset.partition, Some(offset.clone())));
            }
            by_topic.into_iter().collect()
        }
    };
    (error, listed)
}

/// (offset, leader epoch, metadata) of a committed offset; -1, -1, "" when none.
fn committed(found: Option<CommittedOffset>) -> (i64, i32, String) {
    match found {
        Some(o) => (o.offset, o.leader_epoch, o.metadata.unwrap_or_default()),
        None => (-1, -1, String::new()),
    }
}
