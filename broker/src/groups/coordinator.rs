//! The group coordinator of one broker: which groups it coordinates (a stable hash over
//! the live brokers, the same on every broker), their membership, the checks offset
//! commits pass before they go to the controller quorum, and the offsets it caches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_controller_client::MetadataCache;
use brook_protocol::ErrorCode;
use bytes::Bytes;
use parking_lot::Mutex;

use super::group::{Group, GroupDescription, JoinOutcome, JoinRequest, Reply, State, SyncOutcome};
use super::offsets::OffsetCache;

/// How often deadlines (sessions, rebalances) are checked.
const TICK: Duration = Duration::from_millis(100);

pub struct GroupCoordinator {
    broker_id: i32,
    metadata: MetadataCache,
    initial_delay: Duration,
    groups: Mutex<HashMap<String, Group>>,
    pub offsets: OffsetCache,
}

/// A group as ListGroups shows it.
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: State,
}

/// A group's place: `crc32c(group) mod live brokers` (sorted by id).
fn coordinator_index(group_id: &str, live: usize) -> usize {
    (crc32c::crc32c(group_id.as_bytes()) as usize) % live.max(1)
}

fn coordinator_among(group_id: &str, live: &[i32]) -> Option<i32> {
    (!live.is_empty()).then(|| live[coordinator_index(group_id, live.len())])
}

impl GroupCoordinator {
    pub fn new(broker_id: i32, metadata: MetadataCache, offsets: OffsetCache, initial_delay: Duration) -> Self {
        GroupCoordinator {
            broker_id,
            metadata,
            initial_delay,
            groups: Mutex::new(HashMap::new()),
            offsets,
        }
    }

    /// The live brokers' ids, in id order: the domain of the coordinator hash.
    fn live_brokers(&self) -> Vec<i32> {
        let image = self.metadata.image();
        image
            .brokers
            .values()
            .filter(|b| !b.fenced)
            .map(|b| b.broker_id)
            .collect()
    }

    /// The live broker coordinating `group_id`, if any broker is live.
    pub fn coordinator_for(&self, group_id: &str) -> Option<i32> {
        coordinator_among(group_id, &self.live_brokers())
    }

    pub fn is_coordinator(&self, group_id: &str) -> bool {
        self.coordinator_for(group_id) == Some(self.broker_id)
    }

    /// Whether this broker holds membership state for the group.
    pub fn has_group(&self, group_id: &str) -> bool {
        self.groups.lock().contains_key(group_id)
    }

    fn with_group<T>(&self, group_id: &str, f: impl FnOnce(&mut Group) -> T) -> T {
        let mut groups = self.groups.lock();
        let group = groups
            .entry(group_id.to_owned())
            .or_insert_with(|| Group::new(group_id.to_owned(), self.initial_delay));
        f(group)
    }

    pub async fn join(&self, group_id: &str, request: JoinRequest) -> JoinOutcome {
        let patience = request.rebalance_timeout + Duration::from_secs(5);
        let reply = self.with_group(group_id, |g| g.join(request, Instant::now()));
        match reply {
            Reply::Now(outcome) => outcome,
            Reply::Later(answer) => match tokio::time::timeout(patience, answer).await {
                Ok(Ok(outcome)) => outcome,
                _ => JoinOutcome {
                    error: Some(ErrorCode::RebalanceInProgress),
                    generation: -1,
                    ..JoinOutcome::default()
                },
            },
        }
    }

    pub async fn sync(
        &self,
        group_id: &str,
        member: (&str, Option<&str>),
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncOutcome {
        let (member_id, instance_id) = member;
        let reply = self.with_group(group_id, |g| match g.check_instance(member_id, instance_id) {
            Err(code) => Reply::Now(SyncOutcome {
                error: Some(code),
                ..SyncOutcome::default()
            }),
            Ok(()) => g.sync(member_id, generation, assignments, Instant::now()),
        });
        match reply {
            Reply::Now(outcome) => outcome,
            Reply::Later(answer) => answer.await.unwrap_or_else(|_| SyncOutcome {
                error: Some(ErrorCode::RebalanceInProgress),
                ..SyncOutcome::default()
            }),
        }
    }

    /// `member` is the member id and, for static members, the `group.instance.id`.
    pub fn heartbeat(&self, group_id: &str, member: (&str, Option<&str>), generation: i32) -> Result<(), ErrorCode> {
        let (member_id, instance_id) = member;
        let mut groups = self.groups.lock();
        let group = groups.get_mut(group_id).ok_or(ErrorCode::UnknownMemberId)?;
        group.check_instance(member_id, instance_id)?;
        group.heartbeat(member_id, generation, Instant::now())
    }

    /// Members by id, or by `group.instance.id` when the id is empty (static members).
    pub fn leave(&self, group_id: &str, members: &[(String, Option<String>)]) -> Vec<Result<(), ErrorCode>> {
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return vec![Err(ErrorCode::UnknownMemberId); members.len()];
        };
        let ids: Vec<String> = members
            .iter()
            .map(|(id, instance)| match (id.is_empty(), instance) {
                (true, Some(instance)) => group.member_of_instance(instance).unwrap_or_default().to_owned(),
                _ => id.clone(),
            })
            .collect();
        group.leave(&ids, Instant::now())
    }

    pub fn check_commit(&self, group_id: &str, member: (&str, Option<&str>), generation: i32) -> Result<(), ErrorCode> {
        let (member_id, instance_id) = member;
        let groups = self.groups.lock();
        match groups.get(group_id) {
            Some(group) => group
                .check_instance(member_id, instance_id)
                .and_then(|()| group.check_commit(member_id, generation)),
            None if generation < 0 => Ok(()),
            None => Err(ErrorCode::IllegalGeneration),
        }
    }

    /// Offsets of the group were committed: keep it once it is Empty.
    pub fn note_commits(&self, group_id: &str) {
        if let Some(group) = self.groups.lock().get_mut(group_id) {
            group.note_commits();
        }
    }

    /// The group's membership, if it has any here.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.groups.lock().get(group_id).map(Group::describe)
    }

    /// The groups this broker coordinates: those with members, then the given groups
    /// known only by their committed offsets (Empty, protocol type unknown: "").
    pub fn listed(&self, with_offsets: Vec<String>) -> Vec<ListedGroup> {
        let live = self.live_brokers();
        let mine = |id: &str| coordinator_among(id, &live) == Some(self.broker_id);
        let groups = self.groups.lock();
        let mut listed: Vec<ListedGroup> = groups
            .iter()
            .filter(|(id, _)| mine(id))
            .map(|(id, g)| ListedGroup {
                group_id: id.clone(),
                protocol_type: g.protocol_type().unwrap_or_default().to_owned(),
                state: g.state(),
            })
            .collect();
        listed.extend(
            with_offsets
                .into_iter()
                .filter(|id| !groups.contains_key(id) && mine(id))
                .map(|group_id| ListedGroup {
                    group_id,
                    protocol_type: String::new(),
                    state: State::Empty,
                }),
        );
        listed
    }

    /// Forgets a group's membership state before its offsets are deleted; refused with
    /// `NON_EMPTY_GROUP` while it has members.
    pub fn forget(&self, group_id: &str) -> Result<(), ErrorCode> {
        let mut groups = self.groups.lock();
        if groups.get(group_id).is_some_and(Group::has_members) {
            return Err(ErrorCode::NonEmptyGroup);
        }
        groups.remove(group_id);
        Ok(())
    }

    /// The topics whose offsets OffsetDelete must keep (see [`Group::protected_topics`]).
    pub fn protected_topics(&self, group_id: &str) -> Result<std::collections::HashSet<String>, ErrorCode> {
        self.groups
            .lock()
            .get(group_id)
            .map_or_else(|| Ok(Default::default()), Group::protected_topics)
    }

    /// Runs the deadlines of every group, until the task is aborted; drops groups that
    /// are empty and idle.
    pub async fn run(self: Arc<Self>) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = Instant::now();
            let mut groups = self.groups.lock();
            for group in groups.values_mut() {
                group.tick(now);
            }
            groups.retain(|_, g| !g.is_forgettable());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_maps_to_the_same_place_for_the_same_brokers() {
        assert_eq!(coordinator_index("orders", 3), coordinator_index("orders", 3));
        assert!(coordinator_index("orders", 3) < 3);
        assert_eq!(coordinator_index("anything", 1), 0);
        let spread: std::collections::HashSet<usize> =
            (0..100).map(|i| coordinator_index(&format!("group-{i}"), 3)).collect();
        assert_eq!(spread.len(), 3, "groups spread over the brokers");
    }
}
