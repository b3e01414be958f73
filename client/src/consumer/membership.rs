//! Group membership for a subscribing consumer, with the classic (eager) group protocol:
//! JoinGroup, the leader's assignment, SyncGroup, heartbeats from a background task, and
//! LeaveGroup. A heartbeat that learns of a rebalance raises a flag; the consumer's next
//! `poll` revokes its partitions and joins again, as the Java client does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use brook_protocol::consumer_protocol::{
    assigned_partitions, encode_assignment, encode_subscription, subscribed_topics,
};
use brook_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use brook_protocol::messages::leave_group_request::MemberIdentity;
use brook_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use brook_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, RequestKind, ResponseKind,
    SyncGroupRequest,
};
use brook_protocol::{ApiKey, ErrorCode};
use bytes::Bytes;
use tokio::task::JoinHandle;

use super::assignor::Assignor;
use super::{ConsumerConfig, millis};
use crate::client::Client;
use crate::error::{Error, Result, check};
use crate::groups::{Committer, text};

const PROTOCOL_TYPE: &str = "consumer";

pub(crate) struct Membership {
    group: String,
    member_id: String,
    generation: i32,
    /// Set by the heartbeat task (or a refused commit) when the group rebalances.
    rejoin: Arc<AtomicBool>,
    heartbeat: Option<JoinHandle<()>>,
}

/// The answers that mean "this generation is over: join again".
fn ends_generation(code: Option<i16>) -> bool {
    [
        ErrorCode::RebalanceInProgress,
        ErrorCode::IllegalGeneration,
        ErrorCode::UnknownMemberId,
        ErrorCode::FencedInstanceId,
    ]
    .iter()
    .any(|e| Some(e.code()) == code)
}

impl Membership {
    pub(crate) fn new(group: &str) -> Self {
        Membership {
            group: group.to_owned(),
            member_id: String::new(),
            generation: -1,
            rejoin: Arc::new(AtomicBool::new(true)),
            heartbeat: None,
        }
    }

    pub(crate) fn needs_join(&self) -> bool {
        self.rejoin.load(Ordering::Acquire)
    }

    pub(crate) fn request_rejoin(&self) {
        self.rejoin.store(true, Ordering::Release);
    }

    pub(crate) fn committer(&self) -> Committer {
        Committer {
            generation: self.generation,
            member_id: self.member_id.clone(),
        }
    }

    /// A commit refused because the generation ended means the group is rebalancing.
    pub(crate) fn note_commit_error(&self, error: &Error) {
        if ends_generation(error.kafka_code()) {
            self.request_rejoin();
        }
    }

    /// Joins (or rejoins) the group subscribed to `topics`; returns the partitions the
    /// leader assigned to this member. Retriable refusals are retried until
    /// `max_poll_interval` has passed.
    pub(crate) async fn join(
        &mut self,
        client: &Arc<Client>,
        config: &ConsumerConfig,
        topics: &[String],
    ) -> Result<Vec<(String, i32)>> {
        self.stop_heartbeat();
        self.rejoin.store(false, Ordering::Release);
        let subscription = encode_subscription(topics)?;
        let give_up = Instant::now() + config.max_poll_interval;
        loop {
            let error = match self.join_once(client, config, &subscription).await {
                Ok(assigned) => {
                    self.start_heartbeat(Arc::clone(client), config.heartbeat_interval);
                    return Ok(assigned);
                }
                Err(error) => error,
            };
            let code = error.kafka_code();
            if code == Some(ErrorCode::UnknownMemberId.code()) {
                self.member_id.clear();
            }
            let retriable = error.coordinator_moved()
                || ends_generation(code)
                || code == Some(ErrorCode::CoordinatorLoadInProgress.code());
            if !retriable || Instant::now() >= give_up {
                self.request_rejoin();
                return Err(error);
            }
            tracing::debug!(group = %self.group, %error, "joining again");
            tokio::time::sleep(config.retry_backoff).await;
        }
    }

    async fn join_once(
        &mut self,
        client: &Client,
        config: &ConsumerConfig,
        subscription: &Bytes,
    ) -> Result<Vec<(String, i32)>> {
        let mut joined = self.join_group(client, config, subscription).await?;
        if joined.error_code == ErrorCode::MemberIdRequired.code() {
            // KIP-394: the first JoinGroup only hands out a member id.
            self.member_id = joined.member_id.to_string();
            joined = self.join_group(client, config, subscription).await?;
        }
        check(joined.error_code, || format!("joining group {}", self.group))?;
        self.member_id = joined.member_id.to_string();
        self.generation = joined.generation_id;
        let protocol = joined.protocol_name.as_ref().map(|p| p.to_string()).unwrap_or_default();
        let assignments = if joined.leader == joined.member_id {
            self.assign(client, &protocol, &joined).await?
        } else {
            Vec::new()
        };
        let assignment = self.sync_group(client, config, &protocol, assignments).await?;
        tracing::info!(group = %self.group, generation = self.generation, member = %self.member_id,
            partitions = assignment.len(), "joined the group");
        Ok(assignment)
    }

    async fn join_group(
        &self,
        client: &Client,
        config: &ConsumerConfig,
        subscription: &Bytes,
    ) -> Result<JoinGroupResponse> {
        client
            .at_coordinator(&self.group, async |connection| {
                let version = connection.version(ApiKey::JoinGroup, 1, 7)?;
                let protocols = config
                    .assignors
                    .iter()
                    .map(|a| {
                        JoinGroupRequestProtocol::default()
                            .with_name(text(a.name()))
                            .with_metadata(subscription.clone())
                    })
                    .collect();
                let request = JoinGroupRequest::default()
                    .with_group_id(GroupId(text(&self.group)))
                    .with_session_timeout_ms(millis(config.session_timeout))
                    .with_rebalance_timeout_ms(millis(config.max_poll_interval))
                    .with_member_id(text(&self.member_id))
                    .with_protocol_type(text(PROTOCOL_TYPE))
                    .with_protocols(protocols);
                // The coordinator holds JoinGroup until every member has joined.
                let within = config.max_poll_interval + Duration::from_secs(5);
                let ResponseKind::JoinGroup(response) = connection
                    .call_within(ApiKey::JoinGroup, version, RequestKind::JoinGroup(request), within)
                    .await?
                else {
                    return Err(Error::not_a("JoinGroup"));
                };
                // Coordinator errors become `Err` here so that a moved coordinator is
                // looked up again.
                if response.error_code != ErrorCode::MemberIdRequired.code() {
                    check(response.error_code, || format!("joining group {}", self.group))?;
                }
                Ok(response)
            })
            .await
    }

    /// The leader's work: every member's partitions under the chosen assignor.
    async fn assign(
        &self,
        client: &Client,
        protocol: &str,
        joined: &JoinGroupResponse,
    ) -> Result<Vec<SyncGroupRequestAssignment>> {
        let assignor = Assignor::from_name(protocol).ok_or_else(|| {
            Error::kafka(
                ErrorCode::InconsistentGroupProtocol.code(),
                format!(
                    "group {} chose assignor {protocol:?}, which Brook does not have",
                    self.group
                ),
            )
        })?;
        let members: BTreeMap<String, Vec<String>> = joined
            .members
            .iter()
            .map(|m| {
                // A subscription that cannot be read subscribes to nothing.
                let topics = subscribed_topics(&m.metadata).unwrap_or_default();
                (m.member_id.to_string(), topics)
            })
            .collect();
        let wanted: Vec<String> = members
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let counts = client
            .existing_topics(&wanted)
            .await?
            .into_iter()
            .map(|t| (t.name, t.partitions.len() as i32))
            .collect();
        assignor
            .assign(&members, &counts)
            .into_iter()
            .map(|(member, partitions)| {
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(text(&member))
                    .with_assignment(encode_assignment(&partitions)?))
            })
            .collect()
    }

    async fn sync_group(
        &self,
        client: &Client,
        config: &ConsumerConfig,
        protocol: &str,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> Result<Vec<(String, i32)>> {
        let assignment = client
            .at_coordinator(&self.group, async |connection| {
                let version = connection.version(ApiKey::SyncGroup, 0, 5)?;
                let request = SyncGroupRequest::default()
                    .with_group_id(GroupId(text(&self.group)))
                    .with_generation_id(self.generation)
                    .with_member_id(text(&self.member_id))
                    .with_protocol_type(Some(text(PROTOCOL_TYPE)))
                    .with_protocol_name(Some(text(protocol)))
                    .with_assignments(assignments);
                // A follower's SyncGroup waits for the leader's.
                let within = config.max_poll_interval + Duration::from_secs(5);
                let ResponseKind::SyncGroup(response) = connection
                    .call_within(ApiKey::SyncGroup, version, RequestKind::SyncGroup(request), within)
                    .await?
                else {
                    return Err(Error::not_a("SyncGroup"));
                };
                check(response.error_code, || format!("syncing group {}", self.group))?;
                Ok(response.assignment)
            })
            .await?;
        let by_topic = assigned_partitions(&assignment)?;
        Ok(by_topic
            .into_iter()
            .flat_map(|(topic, partitions)| partitions.into_iter().map(move |p| (topic.clone(), p)))
            .collect())
    }

    fn start_heartbeat(&mut self, client: Arc<Client>, interval: Duration) {
        let group = self.group.clone();
        let member_id = self.member_id.clone();
        let generation = self.generation;
        let rejoin = Arc::clone(&self.rejoin);
        self.heartbeat = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let beat = client
                    .at_coordinator(&group, async |connection| {
                        let version = connection.version(ApiKey::Heartbeat, 0, 4)?;
                        let request = HeartbeatRequest::default()
                            .with_group_id(GroupId(text(&group)))
                            .with_generation_id(generation)
                            .with_member_id(text(&member_id));
                        let ResponseKind::Heartbeat(response) = connection
                            .call(ApiKey::Heartbeat, version, RequestKind::Heartbeat(request))
                            .await?
                        else {
                            return Err(Error::not_a("Heartbeat"));
                        };
                        check(response.error_code, || format!("heartbeat to group {group}"))
                    })
                    .await;
                match beat {
                    Ok(()) => {}
                    Err(error) if ends_generation(error.kafka_code()) => {
                        tracing::debug!(%group, %error, "the group is rebalancing");
                        rejoin.store(true, Ordering::Release);
                        return;
                    }
                    // A lost coordinator is looked up again at the next beat; if that
                    // takes longer than the session, the answer is UNKNOWN_MEMBER_ID.
                    Err(error) => tracing::debug!(%group, %error, "heartbeat failed"),
                }
            }
        }));
    }

    fn stop_heartbeat(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }

    /// Leaves the group so that it rebalances at once instead of after the session
    /// timeout. Best effort: a coordinator that cannot be reached times the member out.
    pub(crate) async fn leave(&mut self, client: &Client) {
        self.stop_heartbeat();
        if self.member_id.is_empty() {
            return;
        }
        let left = client
            .at_coordinator(&self.group, async |connection| {
                let version = connection.version(ApiKey::LeaveGroup, 0, 4)?;
                let request = LeaveGroupRequest::default().with_group_id(GroupId(text(&self.group)));
                let request = if version >= 3 {
                    request.with_members(vec![MemberIdentity::default().with_member_id(text(&self.member_id))])
                } else {
                    request.with_member_id(text(&self.member_id))
                };
                let ResponseKind::LeaveGroup(response) = connection
                    .call(ApiKey::LeaveGroup, version, RequestKind::LeaveGroup(request))
                    .await?
                else {
                    return Err(Error::not_a("LeaveGroup"));
                };
                check(response.error_code, || format!("leaving group {}", self.group))
            })
            .await;
        if let Err(error) = left {
            tracing::debug!(group = %self.group, %error, "could not leave the group");
        }
        self.member_id.clear();
        self.generation = -1;
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}
