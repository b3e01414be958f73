//! Partition reassignment (KIP-455) and leader elections on request (KIP-460).
//!
//! A reassignment runs in three steps, as in Kafka: the partition's replicas become the
//! target followed by the replicas leaving (so the new ones start copying while the old
//! ones still count), the leader adds each new replica to the ISR once it has caught up
//! (the ordinary AlterPartition path), and when the whole target is in sync the replicas
//! shrink to the target, a leader outside it handing over to the first in-sync target
//! replica. Brokers need nothing special: a broker named in the replicas hosts and
//! follows the partition, one dropped from them deletes its copy.
//!
//! What was there before (for a cancel) is controller state, outside the metadata image:
//! brokers never need it.

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::{BrokerNodeId, PartitionState};
use brook_protocol::rpc::{ElectLeaders, ElectionType, OngoingReassignment, PartitionResult, ReassignPartition};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::partitions::NO_LEADER;
use super::{ControllerState, MetadataRecord};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    /// The replicas before the reassignment started: where a cancel goes back to.
    pub original: Vec<BrokerNodeId>,
    pub target: Vec<BrokerNodeId>,
}

impl Reassignment {
    fn adding(&self) -> Vec<BrokerNodeId> {
        self.target
            .iter()
            .copied()
            .filter(|b| !self.original.contains(b))
            .collect()
    }

    fn removing(&self) -> Vec<BrokerNodeId> {
        self.original
            .iter()
            .copied()
            .filter(|b| !self.target.contains(b))
            .collect()
    }

    /// The replicas while it runs: the target first (its head is the preferred leader),
    /// then those leaving.
    fn replicas_meanwhile(&self) -> Vec<BrokerNodeId> {
        let mut replicas = self.target.clone();
        replicas.extend(self.removing());
        replicas
    }
}

/// The partition on `replicas`: the ISR keeps only its members, and a leader outside
/// them hands over to the first in-sync, live one (a new leader epoch). Refused when no
/// in-sync replica would remain to lead.
pub fn moved_to(
    state: &PartitionState,
    replicas: &[BrokerNodeId],
    eligible: impl Fn(BrokerNodeId) -> bool,
) -> Result<PartitionState, String> {
    let mut next = state.clone();
    next.replicas = replicas.to_vec();
    next.isr.retain(|b| replicas.contains(b));
    if !replicas.contains(&state.leader) {
        let leader = replicas.iter().copied().find(|b| next.isr.contains(b) && eligible(*b));
        next.leader = leader.ok_or_else(|| format!("none of replicas {replicas:?} is in sync and live to lead"))?;
        next.leader_epoch += 1;
    }
    if next.isr.is_empty() {
        return Err(format!("none of replicas {replicas:?} is in sync"));
    }
    next.partition_epoch += 1;
    Ok(next)
}

/// The partition's final state once every target replica is in sync, else `None`.
fn completed(
    state: &PartitionState,
    reassignment: &Reassignment,
    eligible: impl Fn(BrokerNodeId) -> bool,
) -> Option<PartitionState> {
    if !reassignment.target.iter().all(|b| state.isr.contains(b)) {
        return None;
    }
    moved_to(state, &reassignment.target, eligible).ok()
}

/// A preferred or unclean election for one partition (Kafka's rules and errors).
pub fn elect(
    state: &PartitionState,
    election: ElectionType,
    eligible: impl Fn(BrokerNodeId) -> bool,
) -> Result<PartitionState, (ErrorCode, String)> {
    let mut next = state.clone();
    match election {
        ElectionType::Preferred => {
            let preferred = state.replicas.first().copied().unwrap_or(NO_LEADER);
            if state.leader == preferred {
                return Err((ErrorCode::ElectionNotNeeded, format!("{preferred} already leads")));
            }
            if !state.isr.contains(&preferred) || !eligible(preferred) {
                return Err((
                    ErrorCode::PreferredLeaderNotAvailable,
                    format!("preferred replica {preferred} is not in sync and live"),
                ));
            }
            next.leader = preferred;
        }
        ElectionType::Unclean => {
            if state.leader != NO_LEADER {
                return Err((ErrorCode::ElectionNotNeeded, format!("{} leads", state.leader)));
            }
            let live = || state.replicas.iter().copied().filter(|b| eligible(*b));
            if let Some(clean) = live().find(|b| state.isr.contains(b)) {
                next.leader = clean;
            } else if let Some(unclean) = live().next() {
                next.leader = unclean;
                next.isr = vec![unclean];
            } else {
                return Err((ErrorCode::EligibleLeadersNotAvailable, "no replica is live".to_string()));
            }
        }
    }
    next.leader_epoch += 1;
    next.partition_epoch += 1;
    Ok(next)
}

fn partition_result(topic: &str, partition: i32, error: Option<(ErrorCode, String)>) -> PartitionResult {
    let (error_code, error_message) = match error {
        Some((code, message)) => (code.code(), Some(message)),
        None => (0, None),
    };
    PartitionResult {
        topic: topic.to_owned(),
        partition,
        error_code,
        error_message,
    }
}

type Refusal = (ErrorCode, String);

impl ControllerState {
    fn partition_state(&self, topic: &str, partition: i32) -> Result<(Uuid, &PartitionState), Refusal> {
        let unknown = || {
            (
                ErrorCode::UnknownTopicOrPartition,
                format!("partition {topic}-{partition} does not exist"),
            )
        };
        let topic_state = self.topic(topic).ok_or_else(unknown)?;
        let state = topic_state
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .ok_or_else(unknown)?;
        Ok((topic_state.topic_id, state))
    }

    pub(super) fn reassign(&mut self, requests: &[ReassignPartition]) -> Vec<PartitionResult> {
        requests
            .iter()
            .map(|r| {
                let error = self.reassign_one(r).err();
                partition_result(&r.topic, r.partition, error)
            })
            .collect()
    }

    fn reassign_one(&mut self, request: &ReassignPartition) -> Result<(), Refusal> {
        let (topic_id, state) = self.partition_state(&request.topic, request.partition)?;
        let state = state.clone();
        let key = (topic_id, request.partition);
        let ongoing = self.reassignments.get(&key).cloned();
        let Some(target) = &request.target else {
            let ongoing = ongoing.ok_or_else(|| {
                (
                    ErrorCode::NoReassignmentInProgress,
                    format!(
                        "no reassignment of {}-{} is in progress",
                        request.topic, request.partition
                    ),
                )
            })?;
            let next = moved_to(&state, &ongoing.original, |b| self.is_unfenced(b))
                .map_err(|m| (ErrorCode::InvalidReplicaAssignment, format!("cannot cancel: {m}")))?;
            self.reassignments.remove(&key);
            self.emit(MetadataRecord::ChangePartition { topic_id, state: next });
            return Ok(());
        };
        self.check_target(target)?;
        let original = ongoing.map_or_else(|| state.replicas.clone(), |r| r.original.clone());
        let reassignment = Reassignment {
            original,
            target: target.clone(),
        };
        let meanwhile = moved_to(&state, &reassignment.replicas_meanwhile(), |b| self.is_unfenced(b))
            .map_err(|m| (ErrorCode::InvalidReplicaAssignment, m))?;
        let finished = completed(&meanwhile, &reassignment, |b| self.is_unfenced(b));
        if finished.is_none() {
            self.reassignments.insert(key, reassignment);
        } else {
            self.reassignments.remove(&key);
        }
        let next = finished.unwrap_or(meanwhile);
        if next.replicas != state.replicas || next.leader != state.leader || next.isr != state.isr {
            self.emit(MetadataRecord::ChangePartition { topic_id, state: next });
        }
        Ok(())
    }

    fn check_target(&self, target: &[BrokerNodeId]) -> Result<(), Refusal> {
        match super::invalid_replica_list(target, |b| self.image.brokers.contains_key(&b)) {
            Some(message) => Err((ErrorCode::InvalidReplicaAssignment, message)),
            None => Ok(()),
        }
    }

    /// After an ISR change: finishes the partition's reassignment if its target is now
    /// wholly in sync.
    pub(super) fn complete_reassignment(&mut self, topic_id: Uuid, partition: i32) {
        let key = (topic_id, partition);
        let Some(reassignment) = self.reassignments.get(&key) else {
            return;
        };
        let state = self
            .image
            .topics
            .get(&topic_id)
            .and_then(|t| t.partitions.iter().find(|p| p.partition == partition));
        let Some(next) = state.and_then(|s| completed(s, reassignment, |b| self.is_unfenced(b))) else {
            return;
        };
        self.reassignments.remove(&key);
        self.emit(MetadataRecord::ChangePartition { topic_id, state: next });
    }

    pub(super) fn forget_reassignments(&mut self, topic_id: Uuid) {
        self.reassignments.retain(|(id, _), _| *id != topic_id);
    }

    /// The reassignments in progress, of the partitions named or of all.
    pub fn ongoing_reassignments(&self, partitions: Option<&[(String, i32)]>) -> Vec<OngoingReassignment> {
        self.reassignments
            .iter()
            .filter_map(|((topic_id, partition), reassignment)| {
                let topic = self.image.topics.get(topic_id)?;
                let named =
                    partitions.is_none_or(|named| named.iter().any(|(t, p)| *t == topic.name && p == partition));
                named.then(|| OngoingReassignment {
                    topic: topic.name.clone(),
                    partition: *partition,
                    replicas: reassignment.replicas_meanwhile(),
                    adding: reassignment.adding(),
                    removing: reassignment.removing(),
                })
            })
            .collect()
    }

    pub(super) fn elect_leaders(&mut self, request: &ElectLeaders) -> Vec<PartitionResult> {
        let all = request.partitions.is_none();
        let named: Vec<(String, i32)> = match &request.partitions {
            Some(named) => named.clone(),
            None => self
                .image
                .topics
                .values()
                .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.partition)))
                .collect(),
        };
        let mut results = Vec::with_capacity(named.len());
        for (topic, partition) in named {
            let outcome = self.partition_state(&topic, partition).and_then(|(topic_id, state)| {
                elect(state, request.election_type, |b| self.is_unfenced(b)).map(|next| (topic_id, next))
            });
            let error = match outcome {
                Ok((topic_id, state)) => {
                    self.emit(MetadataRecord::ChangePartition { topic_id, state });
                    None
                }
                // Kafka leaves these out when asked for every partition.
                Err((ErrorCode::ElectionNotNeeded, _)) if all => continue,
                Err(refusal) => Some(refusal),
            };
            results.push(partition_result(&topic, partition, error));
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::super::partitions::tests::partition;
    use super::*;

    #[test]
    fn replicas_meanwhile_are_the_target_then_those_leaving() {
        let r = Reassignment {
            original: vec![1, 2, 3],
            target: vec![4, 2, 5],
        };
        assert_eq!(r.replicas_meanwhile(), vec![4, 2, 5, 1, 3]);
        assert_eq!((r.adding(), r.removing()), (vec![4, 5], vec![1, 3]));
    }

    #[test]
    fn completion_waits_for_the_whole_target_in_sync_then_hands_leadership_over() {
        let r = Reassignment {
            original: vec![1, 2],
            target: vec![3, 2],
        };
        let meanwhile = moved_to(&partition(&[1, 2], &[1, 2], 1), &r.replicas_meanwhile(), |_| true).unwrap();
        assert_eq!(
            (meanwhile.leader, meanwhile.leader_epoch),
            (1, 3),
            "the leader stays while it runs"
        );
        assert_eq!(completed(&meanwhile, &r, |_| true), None, "3 is not in sync yet");
        let mut caught_up = meanwhile.clone();
        caught_up.isr = vec![1, 2, 3];
        let done = completed(&caught_up, &r, |_| true).unwrap();
        assert_eq!((done.replicas, done.isr), (vec![3, 2], vec![2, 3]));
        assert_eq!(
            (done.leader, done.leader_epoch),
            (3, 4),
            "the first in-sync target replica leads"
        );
        let fenced_three = completed(&caught_up, &r, |b| b != 3).unwrap();
        assert_eq!(fenced_three.leader, 2);
    }

    #[test]
    fn a_move_that_leaves_no_live_in_sync_leader_is_refused() {
        assert!(moved_to(&partition(&[1, 2], &[1], 1), &[2, 3], |_| true).is_err());
        assert!(moved_to(&partition(&[1, 2], &[1, 2], 1), &[2, 3], |b| b != 2).is_err());
    }

    #[test]
    fn preferred_election_follows_kafkas_rules() {
        let moved = elect(&partition(&[1, 2, 3], &[1, 2, 3], 2), ElectionType::Preferred, |_| true).unwrap();
        assert_eq!((moved.leader, moved.leader_epoch, moved.partition_epoch), (1, 4, 8));
        let code = |r: Result<PartitionState, (ErrorCode, String)>| r.unwrap_err().0;
        assert_eq!(
            code(elect(&partition(&[1, 2], &[1, 2], 1), ElectionType::Preferred, |_| {
                true
            })),
            ErrorCode::ElectionNotNeeded
        );
        assert_eq!(
            code(elect(&partition(&[1, 2], &[2], 2), ElectionType::Preferred, |_| true)),
            ErrorCode::PreferredLeaderNotAvailable
        );
        assert_eq!(
            code(elect(&partition(&[1, 2], &[1, 2], 2), ElectionType::Preferred, |b| b != 1)),
            ErrorCode::PreferredLeaderNotAvailable
        );
    }

    #[test]
    fn unclean_election_prefers_an_in_sync_replica_and_only_runs_without_a_leader() {
        let code = |r: Result<PartitionState, (ErrorCode, String)>| r.unwrap_err().0;
        assert_eq!(
            code(elect(&partition(&[1, 2], &[1], 1), ElectionType::Unclean, |_| true)),
            ErrorCode::ElectionNotNeeded
        );
        let clean = elect(&partition(&[1, 2, 3], &[3], NO_LEADER), ElectionType::Unclean, |_| true).unwrap();
        assert_eq!((clean.leader, clean.isr), (3, vec![3]));
        let unclean = elect(&partition(&[1, 2, 3], &[3], NO_LEADER), ElectionType::Unclean, |b| {
            b == 2
        })
        .unwrap();
        assert_eq!((unclean.leader, unclean.isr), (2, vec![2]));
        assert_eq!(
            code(elect(
                &partition(&[1, 2], &[1], NO_LEADER),
                ElectionType::Unclean,
                |_| false
            )),
            ErrorCode::EligibleLeadersNotAvailable
        );
    }
}
