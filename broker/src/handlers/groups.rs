//! The consumer-group membership APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat
//! and LeaveGroup, answered by this broker's [`GroupCoordinator`](crate::groups::GroupCoordinator).

use brook_protocol::messages::find_coordinator_response::Coordinator;
use brook_protocol::messages::join_group_response::JoinGroupResponseMember;
use brook_protocol::messages::leave_group_response::MemberResponse;
use brook_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use brook_protocol::{ErrorCode, StrBytes};

use super::{Handlers, live_brokers, wire_code};
use crate::groups::group::JoinRequest;

const GROUP_KEY: i8 = 0;
/// FindCoordinator's key type for a transactional id.
const TRANSACTION_KEY: i8 = 1;

pub(super) fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

impl Handlers {
    /// `Err(NOT_COORDINATOR)` unless this broker coordinates `group`.
    pub(super) fn coordinating(&self, group: &str) -> Result<(), ErrorCode> {
        if self.groups.is_coordinator(group) {
            Ok(())
        } else {
            Err(ErrorCode::NotCoordinator)
        }
    }

    pub(super) fn find_coordinator(&self, request: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
        let live = live_brokers(&self.metadata.image());
        let locate = |key: &str| -> Result<(BrokerId, StrBytes, i32), (ErrorCode, &'static str)> {
            // A transactional id is located like a group, so that every client reaches
            // InitProducerId and fails there at once with a fatal error (see
            // `init_producer_id`). Refusing here instead reads well in librdkafka, but
            // kafkajs drops FindCoordinator's error and reports "failed to find group
            // coordinator".
            match request.key_type {
                GROUP_KEY | TRANSACTION_KEY => {}
                _ => return Err((ErrorCode::InvalidRequest, "unknown coordinator type")),
            }
            let id = self
                .groups
                .coordinator_for(key)
                .ok_or((ErrorCode::CoordinatorNotAvailable, "no live broker"))?;
            let broker = live
                .iter()
                .find(|b| b.id.0 == id)
                .ok_or((ErrorCode::CoordinatorNotAvailable, "no live broker"))?;
            Ok((broker.id, broker.host.clone(), broker.port))
        };
        if version < 4 {
            let response = FindCoordinatorResponse::default();
            return match locate(request.key.as_str()) {
                Ok((id, host, port)) => response.with_node_id(id).with_host(host).with_port(port),
                Err((code, message)) => {
                    let response = response
                        .with_error_code(code.code())
                        .with_node_id(BrokerId(-1))
                        .with_port(-1);
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
                        .with_error_code(code.code())
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
        (client_id, client_host): (&str, &str),
    ) -> JoinGroupResponse {
        let group = request.group_id.0.as_str();
        if let Err(code) = self.coordinating(group) {
            return JoinGroupResponse::default()
                .with_error_code(code.code())
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
            client_host: client_host.to_owned(),
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
            .with_error_code(wire_code(outcome.error))
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
            return SyncGroupResponse::default().with_error_code(code.code());
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
            .with_error_code(wire_code(outcome.error))
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
        let outcome = self.coordinating(group).and_then(|()| {
            self.groups.heartbeat(
                group,
                (request.member_id.as_str(), request.group_instance_id.as_deref()),
                request.generation_id,
            )
        });
        HeartbeatResponse::default().with_error_code(wire_code(outcome.err()))
    }

    pub(super) fn leave_group(&self, request: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        let group = request.group_id.0.as_str();
        if let Err(code) = self.coordinating(group) {
            return LeaveGroupResponse::default().with_error_code(code.code());
        }
        if version < 3 {
            let codes = self.groups.leave(group, &[(request.member_id.to_string(), None)]);
            return LeaveGroupResponse::default().with_error_code(wire_code(codes[0].err()));
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
            .map(|(m, outcome)| {
                MemberResponse::default()
                    .with_member_id(m.member_id)
                    .with_group_instance_id(m.group_instance_id)
                    .with_error_code(wire_code(outcome.err()))
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    }
}
