//! One consumer group under the classic protocol (docs/architecture.md), as Kafka's group
//! coordinator runs it: Empty -> PreparingRebalance -> CompletingRebalance -> Stable.
//!
//! Pure state: calls take `now` and answer at once or with a receiver that the state
//! machine completes later (a JoinGroup waits for the other members to rejoin, a
//! SyncGroup for the leader's assignment). The owner drives deadlines with [`Group::tick`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use brook_protocol::ErrorCode;
use bytes::Bytes;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    /// The name Kafka's DescribeGroups and ListGroups use.
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Its metadata for the selected protocol and its assignment; empty unless the
    /// group is stable (as Kafka answers).
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDescription {
    pub state: State,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub members: Vec<MemberDescription>,
}

/// What a JoinGroup answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinOutcome {
    /// `None`: no error.
    pub error: Option<ErrorCode>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only for the leader: every member and its metadata for the chosen protocol.
    pub members: Vec<(String, Option<String>, Bytes)>,
    /// A static leader came back into a stable group: it must not compute a new
    /// assignment (JoinGroup v9 `SkipAssignment`; older versions get no member list).
    pub skip_assignment: bool,
}

/// What a SyncGroup answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncOutcome {
    /// `None`: no error.
    pub error: Option<ErrorCode>,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

pub enum Reply<T> {
    Now(T),
    Later(oneshot::Receiver<T>),
}

pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    /// The client's address as Kafka prints it (`/127.0.0.1`).
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// KIP-394 (JoinGroup v4+): a new member first gets its id with `MEMBER_ID_REQUIRED`.
    pub require_known_member_id: bool,
}

struct Member {
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    last_seen: Instant,
    assignment: Bytes,
    join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

pub struct Group {
    id: String,
    state: State,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, valid until the deadline.
    pending: HashMap<String, Instant>,
    /// When the current rebalance phase gives up waiting.
    deadline: Option<Instant>,
    /// A first join into an empty group waits this long for others (Kafka's
    /// `group.initial.rebalance.delay.ms`) instead of completing at once.
    initial_delay: Duration,
    waiting_out_initial_delay: bool,
    next_member: u64,
    /// Offsets were committed through this coordinator: the group outlives its members
    /// (still listed and described with its protocol type once Empty, as Kafka's does).
    has_commits: bool,
}

impl Group {
    pub fn new(id: String, initial_delay: Duration) -> Self {
        Group {
            id,
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            deadline: None,
            initial_delay,
            waiting_out_initial_delay: false,
            next_member: 0,
            has_commits: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn has_members(&self) -> bool {
        !self.members.is_empty()
    }

    pub fn describe(&self) -> GroupDescription {
        let stable = self.state == State::Stable;
        let members = self
            .members
            .iter()
            .map(|(id, m)| MemberDescription {
                member_id: id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: stable
                    .then(|| Self::metadata_for(&m.protocols, self.protocol.as_ref()))
                    .flatten()
                    .unwrap_or_default(),
                assignment: if stable { m.assignment.clone() } else { Bytes::new() },
            })
            .collect();
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            members,
        }
    }

    /// The topics whose offsets OffsetDelete must keep: those the members of a
    /// "consumer" group subscribe to (a subscription that cannot be read counts as
    /// none). A group of another protocol type keeps all while it has members.
    pub fn protected_topics(&self) -> Result<std::collections::HashSet<String>, ErrorCode> {
        if self.members.is_empty() {
            return Ok(Default::default());
        }
        if self.protocol_type.as_deref() != Some("consumer") {
            return Err(ErrorCode::NonEmptyGroup);
        }
        Ok(self
            .members
            .values()
            .filter_map(|m| Self::metadata_for(&m.protocols, self.protocol.as_ref()))
            .filter_map(|metadata| brook_protocol::consumer_protocol::subscribed_topics(&metadata).ok())
            .flatten()
            .collect())
    }

    /// Nothing worth keeping: Empty, no member about to join, no commits.
    pub fn is_forgettable(&self) -> bool {
        self.state == State::Empty && self.members.is_empty() && self.pending.is_empty() && !self.has_commits
    }

    pub fn note_commits(&mut self) {
        self.has_commits = true;
    }

    fn new_member_id(&mut self, client_id: &str) -> String {
        self.next_member += 1;
        format!("{client_id}-{}-{}", uuid::Uuid::new_v4().simple(), self.next_member)
    }

    /// A protocol every member (and the joiner) supports.
    fn supports_a_common_protocol(&self, protocols: &[(String, Bytes)], except: &str) -> bool {
        protocols.iter().any(|(name, _)| {
            self.members
                .iter()
                .filter(|(id, _)| id.as_str() != except)
                .all(|(_, m)| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    pub fn join(&mut self, request: JoinRequest, now: Instant) -> Reply<JoinOutcome> {
        let refuse = |code: ErrorCode, member_id: &str| {
            Reply::Now(JoinOutcome {
                error: Some(code),
                generation: -1,
                member_id: member_id.to_owned(),
                ..JoinOutcome::default()
            })
        };
        if request.protocol_type.is_empty() || request.protocols.is_empty() {
            return refuse(ErrorCode::InconsistentGroupProtocol, &request.member_id);
        }
        if !self.members.is_empty()
            && (self.protocol_type.as_deref() != Some(request.protocol_type.as_str())
                || !self.supports_a_common_protocol(&request.protocols, &request.member_id))
        {
            return refuse(ErrorCode::InconsistentGroupProtocol, &request.member_id);
        }
        let static_incarnation = request
            .instance_id
            .as_deref()
            .and_then(|instance| self.member_of_instance(instance))
            .map(str::to_owned);
        let member_id = if request.member_id.is_empty() {
            if let Some(old_id) = static_incarnation {
                // KIP-345: a static member coming back takes over its old incarnation.
                let new_id = self.new_member_id(&request.client_id);
                if let Some(outcome) = self.replace_static_member(&old_id, &new_id, &request, now) {
                    return Reply::Now(outcome);
                }
                new_id
            } else {
                let id = self.new_member_id(&request.client_id);
                if request.instance_id.is_none() && request.require_known_member_id {
                    self.pending.insert(id.clone(), now + request.session_timeout);
                    return refuse(ErrorCode::MemberIdRequired, &id);
                }
                id
            }
        } else if static_incarnation.is_some_and(|current| current != request.member_id) {
            return refuse(ErrorCode::FencedInstanceId, &request.member_id);
        } else if self.members.contains_key(&request.member_id) || self.pending.remove(&request.member_id).is_some() {
            request.member_id.clone()
        } else {
            return refuse(ErrorCode::UnknownMemberId, &request.member_id);
        };

        let (waiter, answer) = oneshot::channel();
        let member = self.members.entry(member_id.clone()).or_insert_with(|| Member {
            instance_id: request.instance_id.clone(),
            client_id: request.client_id.clone(),
            client_host: request.client_host.clone(),
            session_timeout: request.session_timeout,
            rebalance_timeout: request.rebalance_timeout,
            protocols: Vec::new(),
            last_seen: now,
            assignment: Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
        });
        member.protocols = request.protocols;
        member.session_timeout = request.session_timeout;
        member.rebalance_timeout = request.rebalance_timeout;
        member.last_seen = now;
        if let Some(previous) = member.join_waiter.replace(waiter) {
            // The same member asked twice: the older request is superseded.
            let _ = previous.send(JoinOutcome {
                error: Some(ErrorCode::UnknownMemberId),
                generation: -1,
                ..JoinOutcome::default()
            });
        }
        self.protocol_type = Some(request.protocol_type);
        if self.state != State::PreparingRebalance {
            self.prepare_rebalance(now);
        }
        self.try_complete_join(now);
        Reply::Later(answer)
    }

    /// Moves a static member's state from its old member id to `new_id`; the old
    /// incarnation's pending requests get `FENCED_INSTANCE_ID`. In a stable group whose
    /// protocol metadata for this member did not change, the member simply gets the
    /// current generation back (no rebalance, it keeps its assignment); otherwise `None`
    /// and the join goes on as any rejoin.
    fn replace_static_member(
        &mut self,
        old_id: &str,
        new_id: &str,
        request: &JoinRequest,
        now: Instant,
    ) -> Option<JoinOutcome> {
        let mut member = self.members.remove(old_id)?;
        Self::fail_waiters(&mut member, ErrorCode::FencedInstanceId);
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.to_owned());
        }
        let unchanged = self.state == State::Stable
            && self.protocol_type.as_deref() == Some(request.protocol_type.as_str())
            && Self::metadata_for(&member.protocols, self.protocol.as_ref())
                == Self::metadata_for(&request.protocols, self.protocol.as_ref());
        member.last_seen = now;
        member.session_timeout = request.session_timeout;
        member.rebalance_timeout = request.rebalance_timeout;
        member.client_id.clone_from(&request.client_id);
        member.client_host.clone_from(&request.client_host);
        self.members.insert(new_id.to_owned(), member);
        if !unchanged {
            return None;
        }
        let leader = self.leader.clone().unwrap_or_default();
        let is_leader = leader == new_id;
        Some(JoinOutcome {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            members: if is_leader { self.everyone() } else { Vec::new() },
            leader,
            member_id: new_id.to_owned(),
            skip_assignment: is_leader,
        })
    }

    fn metadata_for(protocols: &[(String, Bytes)], name: Option<&String>) -> Option<Bytes> {
        protocols
            .iter()
            .find(|(n, _)| Some(n) == name)
            .map(|(_, metadata)| metadata.clone())
    }

    /// Every member with its metadata for the selected protocol, as the leader sees them.
    fn everyone(&self) -> Vec<(String, Option<String>, Bytes)> {
        self.members
            .iter()
            .map(|(id, m)| {
                let metadata = Self::metadata_for(&m.protocols, self.protocol.as_ref()).unwrap_or_default();
                (id.clone(), m.instance_id.clone(), metadata)
            })
            .collect()
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        let from_empty = self.state == State::Empty;
        self.state = State::PreparingRebalance;
        // Members waiting for an assignment learn that another round started.
        for member in self.members.values_mut() {
            if let Some(waiter) = member.sync_waiter.take() {
                let _ = waiter.send(SyncOutcome {
                    error: Some(ErrorCode::RebalanceInProgress),
                    ..SyncOutcome::default()
                });
            }
        }
        self.waiting_out_initial_delay = from_empty && !self.initial_delay.is_zero();
        let wait = if self.waiting_out_initial_delay {
            self.initial_delay.min(self.max_rebalance_timeout())
        } else {
            self.max_rebalance_timeout()
        };
        self.deadline = Some(now + wait);
    }

    /// Completes the join phase once every member has rejoined (or the deadline passed:
    /// those who did not are removed).
    fn try_complete_join(&mut self, now: Instant) {
        if self.state != State::PreparingRebalance {
            return;
        }
        let expired = self.deadline.is_some_and(|d| now >= d);
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        if !(expired || (all_joined && !self.waiting_out_initial_delay)) {
            return;
        }
        let absent: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.join_waiter.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in absent {
            self.members.remove(&id);
        }
        self.generation += 1;
        self.waiting_out_initial_delay = false;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            self.deadline = None;
            return;
        }
        self.protocol = self.select_protocol();
        if !self.leader.as_ref().is_some_and(|l| self.members.contains_key(l)) {
            self.leader = self.members.keys().next().cloned();
        }
        self.state = State::CompletingRebalance;
        self.deadline = Some(now + self.max_rebalance_timeout());
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol.clone();
        let everyone = self.everyone();
        for (id, member) in self.members.iter_mut() {
            member.last_seen = now;
            if let Some(waiter) = member.join_waiter.take() {
                let _ = waiter.send(JoinOutcome {
                    error: None,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol: protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader { everyone.clone() } else { Vec::new() },
                    skip_assignment: false,
                });
            }
        }
    }

    /// The protocol most members list first among those all support (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let candidates: Vec<&String> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some((choice, _)) = member.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        candidates
            .iter()
            .max_by_key(|name| (votes.get(*name).copied().unwrap_or(0), std::cmp::Reverse(**name)))
            .map(|name| (*name).clone())
    }

    fn check_member(&self, member_id: &str, generation: i32) -> Result<(), ErrorCode> {
        if !self.members.contains_key(member_id) {
            return Err(ErrorCode::UnknownMemberId);
        }
        if generation != self.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
        Ok(())
    }

    pub fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Reply<SyncOutcome> {
        let answer = |error: Option<ErrorCode>, assignment: Bytes| SyncOutcome {
            error,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            assignment,
        };
        if let Err(code) = self.check_member(member_id, generation) {
            return Reply::Now(answer(Some(code), Bytes::new()));
        }
        match self.state {
            State::Empty | State::PreparingRebalance => {
                Reply::Now(answer(Some(ErrorCode::RebalanceInProgress), Bytes::new()))
            }
            State::Stable => Reply::Now(answer(None, self.members[member_id].assignment.clone())),
            State::CompletingRebalance => {
                if self.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    let (protocol_type, protocol) = (self.protocol_type.clone(), self.protocol.clone());
                    for (id, member) in self.members.iter_mut() {
                        member.assignment = given.remove(id).unwrap_or_default();
                        member.last_seen = now;
                        if let Some(waiter) = member.sync_waiter.take() {
                            let _ = waiter.send(SyncOutcome {
                                error: None,
                                protocol_type: protocol_type.clone(),
                                protocol: protocol.clone(),
                                assignment: member.assignment.clone(),
                            });
                        }
                    }
                    self.state = State::Stable;
                    self.deadline = None;
                    Reply::Now(answer(None, self.members[member_id].assignment.clone()))
                } else {
                    let (waiter, receiver) = oneshot::channel();
                    let member = self.members.get_mut(member_id).expect("checked above");
                    member.last_seen = now;
                    member.sync_waiter = Some(waiter);
                    Reply::Later(receiver)
                }
            }
        }
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32, now: Instant) -> Result<(), ErrorCode> {
        self.check_member(member_id, generation)?;
        self.members.get_mut(member_id).expect("checked").last_seen = now;
        match self.state {
            State::PreparingRebalance => Err(ErrorCode::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// Removes members that leave; the rest rebalance. Answers per member.
    pub fn leave(&mut self, member_ids: &[String], now: Instant) -> Vec<Result<(), ErrorCode>> {
        let codes = member_ids
            .iter()
            .map(|id| {
                if self.remove_member(id, ErrorCode::UnknownMemberId) {
                    Ok(())
                } else {
                    Err(ErrorCode::UnknownMemberId)
                }
            })
            .collect();
        self.after_removal(now);
        codes
    }

    /// The member id of a static member's current incarnation.
    pub fn member_of_instance(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, m)| m.instance_id.as_deref() == Some(instance_id))
            .map(|(id, _)| id.as_str())
    }

    fn remove_member(&mut self, member_id: &str, waiter_error: ErrorCode) -> bool {
        let Some(mut member) = self.members.remove(member_id) else {
            return false;
        };
        Self::fail_waiters(&mut member, waiter_error);
        true
    }

    /// Answers a member's pending JoinGroup and SyncGroup with `code`.
    fn fail_waiters(member: &mut Member, code: ErrorCode) {
        if let Some(waiter) = member.join_waiter.take() {
            let _ = waiter.send(JoinOutcome {
                error: Some(code),
                generation: -1,
                ..JoinOutcome::default()
            });
        }
        if let Some(waiter) = member.sync_waiter.take() {
            let _ = waiter.send(SyncOutcome {
                error: Some(code),
                ..SyncOutcome::default()
            });
        }
    }

    /// A request naming a static instance that has moved on to another member id comes
    /// from a zombie: `FENCED_INSTANCE_ID` (KIP-345).
    pub fn check_instance(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        match instance_id.and_then(|instance| self.member_of_instance(instance)) {
            Some(current) if current != member_id => Err(ErrorCode::FencedInstanceId),
            _ => Ok(()),
        }
    }

    fn after_removal(&mut self, now: Instant) {
        match self.state {
            State::Stable | State::CompletingRebalance => self.prepare_rebalance(now),
            State::PreparingRebalance => self.try_complete_join(now),
            State::Empty => {}
        }
        if self.members.is_empty() && self.state != State::Empty {
            self.try_complete_join(now.max(self.deadline.unwrap_or(now)));
        }
    }

    /// Drives deadlines: expired sessions leave, a join or sync phase that waited long
    /// enough moves on.
    pub fn tick(&mut self, now: Instant) {
        self.pending.retain(|_, until| *until > now);
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.join_waiter.is_none() && m.last_seen + m.session_timeout <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if !expired.is_empty() {
            for id in &expired {
                tracing::info!(group = %self.id, member = %id, "member session expired");
                self.remove_member(id, ErrorCode::UnknownMemberId);
            }
            self.after_removal(now);
        }
        match self.state {
            State::PreparingRebalance => self.try_complete_join(now),
            State::CompletingRebalance if self.deadline.is_some_and(|d| now >= d) => {
                // The leader never sent the assignment: everyone joins again.
                self.prepare_rebalance(now);
            }
            _ => {}
        }
    }

    /// May an offset commit with this generation and member go ahead?
    pub fn check_commit(&self, member_id: &str, generation: i32) -> Result<(), ErrorCode> {
        if generation < 0 && member_id.is_empty() {
            // A standalone consumer (assign + commit) or an admin client may commit into a
            // group with no members; into one with members it is an unknown member, as
            // Kafka answers (AlterConsumerGroupOffsets on an active group).
            return if self.members.is_empty() {
                Ok(())
            } else {
                Err(ErrorCode::UnknownMemberId)
            };
        }
        self.check_member(member_id, generation)?;
        if self.state == State::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
