//! The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup
//! (membership in this broker's [`GroupCoordinator`]), OffsetCommit and OffsetFetch
//! (offsets in the controller quorum, after the coordinator's generation checks).

use brook_protocol::messages::find_coordinator_response::Coordinator;
use brook_protocol::messages::join_group_response::JoinGroupResponseMember;
use brook_protocol::messages::leave_group_response::MemberResponse;
use brook_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use brook_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use brook_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use brook_protocol::rpc::{CommitOffsets, CommittedOffset, FetchOffsets, OffsetCommit};
use brook_protocol::{ErrorCode, StrBytes};

use super::{Handlers, live_brokers};
use crate::groups::group::JoinRequest;

/// Kafka's `offset.metadata.max.bytes`.
const MAX_OFFSET_METADATA: usize = 4096;
const GROUP_KEY: i8 = 0;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Handlers {
    /// `Err(NOT_COORDINATOR)` unless this broker coordinates `group`.
    fn coordinating(&self, group: &str) -> Result<(), i16> {
        if self.groups.is_coordinator(group) {
            Ok(())
        } else {
            Err(ErrorCode::NotCoordinator.code())
        }
    }

    pub(super) fn find_coordinator(&self, request: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
        let live = live_brokers(&self.metadata.image());
        let locate = |key: &str| -> Result<(BrokerId, StrBytes, i32), (i16, &'static str)> {
            if request.key_type != GROUP_KEY {
                return Err((
                    ErrorCode::CoordinatorNotAvailable.code(),
                    "transactions are not supported",
                ));
            }
            let id = self
                .groups
                .coordinator_for(key)
                .ok_or((ErrorCode::CoordinatorNotAvailable.code(), "no live broker"))?;
            let broker = live
                .iter()
                .find(|b| b.id.0 == id)
                .ok_or((ErrorCode::CoordinatorNotAvailable.code(), "no live broker"))?;
            Ok((broker.id, broker.host.clone(), broker.port))
        };
        if version < 4 {
            let response = FindCoordinatorResponse::default();
            return match locate(request.key.as_str()) {
                Ok((id, host, port)) => response.with_node_id(id).with_host(host).with_port(port),
                Err((code, message)) => {
                    let response = response.with_error_code(code).with_node_id(BrokerId(-1)).with_port(-1);
                    if version >= 1 {
                        response.with_error_message(Some(text(message)))
                    } else {
                        response
                    }
                }
            };
        }
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let coordinator = Coordinator::default().with_key(key.clone());
                match locate(key.as_str()) {
                    Ok((id, host, port)) => coordinator.with_node_id(id).with_host(host).with_port(port),
                    Err((code, message)) => coordinator
                        .with_node_id(BrokerId(-1))
                        .with_port(-1)
                        .with_error_code(code)
                        .with_error_message(Some(text(message))),
                }
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    }

    pub(super) async fn join_group(
        &self,
        request: JoinGroupRequest,
        version: i16,
        client_id: &str,
    ) -> JoinGroupResponse {
        let group = request.group_id.0.as_str();
        if let Err(code) = self.coordinating(group) {
            return JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1);
        }
        let session_ms = request.session_timeout_ms.max(0) as u64;
        // v0 has no rebalance timeout: it is the session timeout.
        let rebalance_ms = if version >= 1 {
            request.rebalance_timeout_ms.max(0) as u64
        } else {
            session_ms
        };
        let join = JoinRequest {
            member_id: request.member_id.to_string(),
            instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
            client_id: client_id.to_owned(),
            session_timeout: std::time::Duration::from_millis(session_ms),
            rebalance_timeout: std::time::Duration::from_millis(rebalance_ms),
            protocol_type: request.protocol_type.to_string(),
            protocols: request
                .protocols
                .iter()
                .map(|p| (p.name.to_string(), p.metadata.clone()))
                .collect(),
            require_known_member_id: version >= 4 && request.group_instance_id.is_none(),
        };
        let outcome = self.groups.join(group, join).await;
        // Before v9 a static leader that must skip the assignment just gets no members.
        let skip_assignment = outcome.skip_assignment && version >= 9;
        let listed = if outcome.skip_assignment && !skip_assignment {
            Vec::new()
        } else {
            outcome.members
        };
        let members = listed
            .into_iter()
            .map(|(id, instance, metadata)| {
                let member = JoinGroupResponseMember::default()
                    .with_member_id(text(&id))
                    .with_metadata(metadata);
                if version >= 5 {
                    member.with_group_instance_id(instance.as_deref().map(text))
                } else {
                    member
                }
            })
            .collect();
        let response = JoinGroupResponse::default()
            .with_error_code(outcome.error_code)
            .with_generation_id(outcome.generation)
            .with_leader(text(&outcome.leader))
            .with_member_id(text(&outcome.member_id))
            .with_members(members);
        let protocol = outcome.protocol.as_deref().map(text);
        let response = if skip_assignment {
            response.with_skip_assignment(true)
        } else {
            response
        };
        if version >= 7 {
            response
                .with_protocol_type(outcome.protocol_type.as_deref().map(text))
                .with_protocol_name(protocol)
        } else {
            response.with_protocol_name(Some(protocol.unwrap_or_default()))
        }
    }

    pub(super) async fn sync_group(&self, request: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        let group = request.group_id.0.as_str();
        if let Err(code) = self.coordinating(group) {
            return SyncGroupResponse::default().with_error_code(code);
        }
        let assignments = request
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect();
        let outcome = self
            .groups
            .sync(
                group,
                (request.member_id.as_str(), request.group_instance_id.as_deref()),
                request.generation_id,
                assignments,
            )
            .await;
        let response = SyncGroupResponse::default()
            .with_error_code(outcome.error_code)
            .with_assignment(outcome.assignment);
        if version >= 5 {
            response
                .with_protocol_type(outcome.protocol_type.as_deref().map(text))
                .with_protocol_name(outcome.protocol.as_deref().map(text))
        } else {
            response
        }
    }

    pub(super) fn heartbeat(&self, request: HeartbeatRequest) -> HeartbeatResponse {
        let group = request.group_id.0.as_str();
        let code = self
            .coordinating(group)
            .map(|()| {
                self.groups.heartbeat(
                    group,
                    (request.member_id.as_str(), request.group_instance_id.as_deref()),
                    request.generation_id,
                )
            })
            .unwrap_or_else(|code| code);
        HeartbeatResponse::default().with_error_code(code)
    }

    pub(super) fn leave_group(&self, request: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        let group = request.group_id.0.as_str();
        if let Err(code) = self.coordinating(group) {
            return LeaveGroupResponse::default().with_error_code(code);
        }
        if version < 3 {
            let codes = self.groups.leave(group, &[(request.member_id.to_string(), None)]);
            return LeaveGroupResponse::default().with_error_code(codes[0]);
        }
        let leaving: Vec<(String, Option<String>)> = request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect();
        let codes = self.groups.leave(group, &leaving);
        let members = request
            .members
            .into_iter()
            .zip(codes)
            .map(|(m, code)| {
                MemberResponse::default()
                    .with_member_id(m.member_id)
                    .with_group_instance_id(m.group_instance_id)
                    .with_error_code(code)
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    }

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
                .map(|e| e.code())
        });
        let mut codes: Vec<Vec<i16>> = request
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
                        match refusal {
                            Some(code) => code,
                            None if too_large => ErrorCode::OffsetMetadataTooLarge.code(),
                            None => 0,
                        }
                    })
                    .collect()
            })
            .collect();
        let timestamp = now_ms();
        let offsets: Vec<OffsetCommit> = request
            .topics
            .iter()
            .zip(&codes)
            .flat_map(|(t, codes)| {
                t.partitions
                    .iter()
                    .zip(codes)
                    .filter(|(_, code)| **code == 0)
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
            let committed = self
                .controller
                .commit_offsets(vec![CommitOffsets {
                    group_id: group,
                    offsets,
                }])
                .await;
            let mut results = match committed {
                Ok(mut groups) => groups
                    .pop()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.error_code)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "offset commit failed in the controller quorum");
                    Vec::new()
                }
            }
            .into_iter();
            for code in codes.iter_mut().flatten().filter(|c| **c == 0) {
                // A commit the quorum did not confirm is retriable for the client.
                *code = results.next().unwrap_or(ErrorCode::CoordinatorNotAvailable.code());
            }
        }
        let topics = request
            .topics
            .iter()
            .zip(codes)
            .map(|(t, codes)| {
                let partitions = t
                    .partitions
                    .iter()
                    .zip(codes)
                    .map(|(p, code)| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code)
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
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
                Ok(()) => {
                    let partitions: Vec<(String, i32)> = topics
                        .iter()
                        .flatten()
                        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
                        .collect();
                    let fetch = FetchOffsets {
                        group_id: group.clone(),
                        partitions,
                    };
                    match self.controller.fetch_offsets(vec![fetch]).await {
                        Ok(mut found) => Ok(found.pop().unwrap_or_default()),
                        Err(e) => {
                            tracing::warn!(error = %e, "offset fetch failed in the controller quorum");
                            Err(ErrorCode::CoordinatorLoadInProgress.code())
                        }
                    }
                }
            };
            answers.push((group, topics, answer));
        }
        if version >= 8 {
            let groups = answers
                .into_iter()
                .map(|(group, topics, answer)| {
                    let (code, listed) = listing(topics, answer);
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
                        .with_error_code(code)
                })
                .collect();
            return OffsetFetchResponse::default().with_groups(groups);
        }
        let Some((_, topics, answer)) = answers.pop() else {
            return OffsetFetchResponse::default(); // before v8 there is always one group
        };
        let (code, listed) = listing(topics, answer);
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
fn listing(asked: Option<AskedTopics>, answer: Result<Vec<CommittedOffset>, i16>) -> (i16, Listed) {
    let (code, found) = match answer {
        Ok(found) => (0, found),
        Err(code) => (code, Vec::new()),
    };
    let lookup = |topic: &str, partition: i32| {
        found
            .iter()
            .find(|o| o.topic == topic && o.partition == partition)
            .cloned()
    };
    let listed = match asked {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, partitions)| {
                let partitions = partitions.into_iter().map(|p| (p, lookup(&topic, p))).collect();
                (topic, partitions)
            })
            .collect(),
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<(i32, Option<CommittedOffset>)>> =
                std::collections::BTreeMap::new();
            for offset in &found {
                by_topic
                    .entry(offset.topic.clone())
                    .or_default()
                    .push((offset.partition, Some(offset.clone())));
            }
            by_topic.into_iter().collect()
        }
    };
    (code, listed)
}

/// (offset, leader epoch, metadata) of a committed offset; -1, -1, "" when none.
fn committed(found: Option<CommittedOffset>) -> (i64, i32, String) {
    match found {
        Some(o) => (o.offset, o.leader_epoch, o.metadata.unwrap_or_default()),
        None => (-1, -1, String::new()),
    }
}
