//! The group admin APIs: DescribeGroups, ListGroups, DeleteGroups and OffsetDelete.
//! Each broker answers for the groups it coordinates (clients ask every broker for
//! ListGroups, and the coordinator for the rest), like Kafka's.

use brook_protocol::ErrorCode;
use brook_protocol::messages::delete_groups_response::DeletableGroupResult;
use brook_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use brook_protocol::messages::list_groups_response::ListedGroup;
use brook_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use brook_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};

use super::groups::text;
use super::{Handlers, per_partition, wire_code};
use crate::groups::group::State;

/// DescribeGroups' state for a group that does not exist.
const DEAD: &str = "Dead";
/// The only group type (KIP-848's ListGroups filter): the classic protocol.
const CLASSIC: &str = "classic";
/// What a group allows when there is no authorizer (Brook has no ACLs), as Kafka answers:
/// the bits of the group operations READ (3), DELETE (6) and DESCRIBE (8).
const GROUP_OPERATIONS: i32 = 1 << 3 | 1 << 6 | 1 << 8;

impl Handlers {
    /// Whether the group exists here: it has membership state or committed offsets.
    async fn group_exists(&self, group: &str) -> Result<bool, ErrorCode> {
        if self.groups.has_group(group) {
            return Ok(true);
        }
        match self.groups.offsets.fetch(group).await {
            Ok(offsets) => Ok(!offsets.is_empty()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the group's offsets from the controller quorum");
                Err(ErrorCode::CoordinatorLoadInProgress)
            }
        }
    }

    pub(super) async fn describe_groups(&self, request: DescribeGroupsRequest, version: i16) -> DescribeGroupsResponse {
        let mut described = Vec::with_capacity(request.groups.len());
        for group_id in request.groups {
            let group = group_id.0.as_str();
            let answer = DescribedGroup::default().with_group_id(group_id.clone());
            let answer = match self.coordinating(group) {
                Err(code) => answer.with_error_code(code.code()),
                Ok(()) => match self.groups.describe(group) {
                    Some(d) => {
                        let members = d
                            .members
                            .into_iter()
                            .map(|m| {
                                let member = DescribedGroupMember::default()
                                    .with_member_id(text(&m.member_id))
                                    .with_client_id(text(&m.client_id))
                                    .with_client_host(text(&m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment);
                                if version >= 4 {
                                    member.with_group_instance_id(m.instance_id.as_deref().map(text))
                                } else {
                                    member
                                }
                            })
                            .collect();
                        answer
                            .with_group_state(text(d.state.name()))
                            .with_protocol_type(text(d.protocol_type.as_deref().unwrap_or_default()))
                            .with_protocol_data(text(d.protocol.as_deref().unwrap_or_default()))
                            .with_members(members)
                    }
                    None => match self.group_exists(group).await {
                        Ok(true) => answer.with_group_state(text(State::Empty.name())),
                        // v6 (KIP-1043) says so with an error, as Kafka 4 does; older
                        // versions report the group Dead.
                        Ok(false) if version >= 6 => answer
                            .with_error_code(ErrorCode::GroupIdNotFound.code())
                            .with_error_message(Some(text(&format!("group {group} not found"))))
                            .with_group_state(text(DEAD)),
                        Ok(false) => answer.with_group_state(text(DEAD)),
                        Err(code) => answer.with_error_code(code.code()),
                    },
                },
            };
            // The field exists from v3; unasked, it keeps its "not computed" default.
            let answer = if version >= 3 && request.include_authorized_operations {
                answer.with_authorized_operations(GROUP_OPERATIONS)
            } else {
                answer
            };
            described.push(answer);
        }
        DescribeGroupsResponse::default().with_groups(described)
    }

    pub(super) async fn list_groups(&self, request: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        let with_offsets = match self.groups.offsets.groups_with_offsets().await {
            Ok(groups) => groups,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the groups with offsets in the controller quorum");
                return ListGroupsResponse::default().with_error_code(ErrorCode::CoordinatorLoadInProgress.code());
            }
        };
        let wanted_state = |state: State| {
            request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(state.name()))
        };
        let wanted_type =
            request.types_filter.is_empty() || request.types_filter.iter().any(|t| t.eq_ignore_ascii_case(CLASSIC));
        let groups = self
            .groups
            .listed(with_offsets)
            .into_iter()
            .filter(|g| wanted_type && wanted_state(g.state))
            .map(|g| {
                let listed = ListedGroup::default()
                    .with_group_id(GroupId(text(&g.group_id)))
                    .with_protocol_type(text(&g.protocol_type));
                let listed = if version >= 4 {
                    listed.with_group_state(text(g.state.name()))
                } else {
                    listed
                };
                if version >= 5 {
                    listed.with_group_type(text(CLASSIC))
                } else {
                    listed
                }
            })
            .collect();
        ListGroupsResponse::default().with_groups(groups)
    }

    pub(super) async fn delete_groups(&self, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
        let mut results = Vec::with_capacity(request.groups_names.len());
        for group_id in request.groups_names {
            let outcome = self.delete_group(group_id.0.as_str()).await;
            results.push(
                DeletableGroupResult::default()
                    .with_group_id(group_id)
                    .with_error_code(wire_code(outcome.err())),
            );
        }
        DeleteGroupsResponse::default().with_results(results)
    }

    async fn delete_group(&self, group: &str) -> Result<(), ErrorCode> {
        self.coordinating(group)?;
        if !self.group_exists(group).await? {
            return Err(ErrorCode::GroupIdNotFound);
        }
        self.groups.forget(group)?;
        self.groups.offsets.delete(group, Vec::new()).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot delete the group's offsets in the controller quorum");
            ErrorCode::CoordinatorNotAvailable
        })
    }

    pub(super) async fn offset_delete(&self, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
        let group = request.group_id.0.as_str();
        let refuse = |code: ErrorCode| OffsetDeleteResponse::default().with_error_code(code.code());
        if let Err(code) = self.coordinating(group) {
            return refuse(code);
        }
        match self.group_exists(group).await {
            Ok(true) => {}
            Ok(false) => return refuse(ErrorCode::GroupIdNotFound),
            Err(code) => return refuse(code),
        }
        let subscribed = match self.groups.protected_topics(group) {
            Ok(topics) => topics,
            Err(code) => return refuse(code),
        };
        let mut outcomes: Vec<Vec<Option<ErrorCode>>> = request
            .topics
            .iter()
            .map(|t| {
                let refusal = subscribed
                    .contains(t.name.0.as_str())
                    .then_some(ErrorCode::GroupSubscribedToTopic);
                vec![refusal; t.partitions.len()]
            })
            .collect();
        let deleted: Vec<(String, i32)> = request
            .topics
            .iter()
            .zip(&outcomes)
            .flat_map(|(t, outcomes)| {
                t.partitions
                    .iter()
                    .zip(outcomes)
                    .filter(|(_, refusal)| refusal.is_none())
                    .map(|(p, _)| (t.name.0.to_string(), p.partition_index))
            })
            .collect();
        if !deleted.is_empty()
            && let Err(e) = self.groups.offsets.delete(group, deleted).await
        {
            tracing::warn!(error = %e, "cannot delete offsets in the controller quorum");
            for refusal in outcomes.iter_mut().flatten().filter(|r| r.is_none()) {
                *refusal = Some(ErrorCode::CoordinatorNotAvailable);
            }
        }
        let mut refusals = outcomes.into_iter().flatten();
        let topics = per_partition(
            &request.topics,
            |t| &t.partitions,
            |_, p| {
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(wire_code(refusals.next().flatten()))
            },
            |t, partitions| {
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            },
        );
        OffsetDeleteResponse::default().with_topics(topics)
    }
}
