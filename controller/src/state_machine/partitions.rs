//! Leader and ISR changes that follow from a broker being fenced or coming back, and the
//! state of a new partition. Pure functions over one partition, so every controller
//! computes the same result from the same image.

use brook_protocol::rpc::metadata::{BrokerNodeId, PartitionState};

/// Kafka's `NO_LEADER`.
pub const NO_LEADER: BrokerNodeId = -1;

/// Why `replicas` cannot be a partition's replica list: empty, a broker named twice, or
/// a broker that is not registered. Shared by topic creation and reassignment.
pub fn invalid_replica_list(replicas: &[BrokerNodeId], registered: impl Fn(BrokerNodeId) -> bool) -> Option<String> {
    if replicas.is_empty() {
        return Some("the replica list is empty".into());
    }
    if replicas.iter().enumerate().any(|(i, b)| replicas[..i].contains(b)) {
        return Some(format!("replica list {replicas:?} repeats a broker"));
    }
    let unknown = replicas.iter().find(|b| !registered(**b))?;
    Some(format!("broker {unknown} is not registered"))
}

/// Panics unless `next` is a state a partition may be published in: a leader (if any)
/// inside the ISR, the ISR inside the replicas, and, after `previous`, a leader epoch
/// that did not go back and a partition epoch that grew. Every controller applies the
/// same records, so a violation is a bug in the code that made the record, and going
/// on would hand brokers a partition that can lose acknowledged writes.
pub fn assert_publishable(previous: Option<&PartitionState>, next: &PartitionState) {
    assert!(
        next.leader == NO_LEADER || next.isr.contains(&next.leader),
        "partition {}: leader {} outside the ISR {:?}",
        next.partition,
        next.leader,
        next.isr
    );
    assert!(
        next.isr.iter().all(|b| next.replicas.contains(b)),
        "partition {}: ISR {:?} outside the replicas {:?}",
        next.partition,
        next.isr,
        next.replicas
    );
    if let Some(previous) = previous {
        assert!(
            next.leader_epoch >= previous.leader_epoch && next.partition_epoch > previous.partition_epoch,
            "partition {}: epochs went from {}/{} to {}/{}",
            next.partition,
            previous.leader_epoch,
            previous.partition_epoch,
            next.leader_epoch,
            next.partition_epoch
        );
    }
}

/// Who may lead when no in-sync replica can (`unclean.leader.election.enable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Only ISR members: a partition whose in-sync replicas are all gone waits for one.
    Clean,
    /// Any live replica, as a last resort: records it never copied are lost.
    Unclean,
}

/// A new partition: the ISR is its eligible replicas, the first of them leads.
pub fn new_partition(
    partition: i32,
    replicas: &[BrokerNodeId],
    eligible: impl Fn(BrokerNodeId) -> bool,
) -> PartitionState {
    let isr: Vec<BrokerNodeId> = replicas.iter().copied().filter(|b| eligible(*b)).collect();
    PartitionState {
        partition,
        replicas: replicas.to_vec(),
        leader: isr.first().copied().unwrap_or(NO_LEADER),
        isr,
        leader_epoch: 0,
        partition_epoch: 0,
    }
}

/// `broker` can no longer serve: it leaves the ISR (unless it is the last member, which
/// keeps the partition's last known good replica on record) and gives up leadership to
/// the next eligible ISR member in replica order; with an unclean election allowed and
/// none eligible, to the next eligible replica, which becomes the whole ISR. `None` when
/// nothing changes.
pub fn without_broker(
    state: &PartitionState,
    broker: BrokerNodeId,
    eligible: impl Fn(BrokerNodeId) -> bool,
    election: Election,
) -> Option<PartitionState> {
    let in_isr = state.isr.contains(&broker);
    if !in_isr && state.leader != broker {
        return None;
    }
    let mut next = state.clone();
    if in_isr && state.isr.len() > 1 {
        next.isr.retain(|b| *b != broker);
    }
    if state.leader == broker {
        let others = || state.replicas.iter().copied().filter(|b| *b != broker && eligible(*b));
        let clean = others().find(|b| next.isr.contains(b));
        next.leader = match (clean, election) {
            (Some(leader), _) => leader,
            (None, Election::Unclean) => others().next().unwrap_or(NO_LEADER),
            (None, Election::Clean) => NO_LEADER,
        };
        if clean.is_none() && next.leader != NO_LEADER {
            next.isr = vec![next.leader];
        }
        next.leader_epoch += 1;
    }
    if next == *state {
        return None;
    }
    next.partition_epoch += 1;
    Some(next)
}

/// `broker` is back: a leaderless partition whose ISR holds it gets it as leader (with an
/// unclean election allowed, any leaderless partition it is a replica of, with it as the
/// whole ISR).
pub fn with_broker_back(state: &PartitionState, broker: BrokerNodeId, election: Election) -> Option<PartitionState> {
    let in_isr = state.isr.contains(&broker);
    let may_lead = in_isr || (election == Election::Unclean && state.replicas.contains(&broker));
    if state.leader != NO_LEADER || !may_lead {
        return None;
    }
    let mut next = state.clone();
    if !in_isr {
        next.isr = vec![broker];
    }
    next.leader = broker;
    next.leader_epoch += 1;
    next.partition_epoch += 1;
    Some(next)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::state_machine) fn partition(
        replicas: &[BrokerNodeId],
        isr: &[BrokerNodeId],
        leader: BrokerNodeId,
    ) -> PartitionState {
        PartitionState {
            partition: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 7,
        }
    }

    #[test]
    fn a_fenced_leader_hands_over_to_the_next_isr_member_in_replica_order() {
        let before = partition(&[1, 2, 3], &[3, 1, 2], 1);
        let after = without_broker(&before, 1, |_| true, Election::Clean).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (2, vec![3, 2]));
        assert_eq!((after.leader_epoch, after.partition_epoch), (4, 8));
    }

    #[test]
    fn a_fenced_follower_leaves_the_isr_without_a_new_leader_epoch() {
        let after = without_broker(&partition(&[1, 2, 3], &[1, 2, 3], 1), 3, |_| true, Election::Clean).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (1, vec![1, 2]));
        assert_eq!((after.leader_epoch, after.partition_epoch), (3, 8));
        assert_eq!(
            without_broker(&partition(&[1, 2, 3], &[1, 2], 1), 3, |_| true, Election::Clean),
            None
        );
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_leaderless_until_it_returns() {
        let after = without_broker(&partition(&[1, 2], &[1], 1), 1, |_| true, Election::Clean).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (NO_LEADER, vec![1]));
        assert_eq!(
            with_broker_back(&after, 2, Election::Clean),
            None,
            "2 is not in the ISR: no unclean election"
        );
        let back = with_broker_back(&after, 1, Election::Clean).unwrap();
        assert_eq!((back.leader, back.leader_epoch), (1, 5));
    }

    #[test]
    fn an_unclean_election_takes_a_live_replica_outside_the_isr_as_the_whole_isr() {
        let lost_isr = partition(&[1, 2, 3], &[1], 1);
        let after = without_broker(&lost_isr, 1, |b| b == 3, Election::Unclean).unwrap();
        assert_eq!((after.leader, after.isr.clone(), after.leader_epoch), (3, vec![3], 4));
        assert_eq!(
            without_broker(&lost_isr, 1, |b| b == 3, Election::Clean)
                .unwrap()
                .leader,
            NO_LEADER
        );
        let leaderless = without_broker(&partition(&[1, 2], &[1], 1), 1, |_| false, Election::Unclean).unwrap();
        assert_eq!((leaderless.leader, leaderless.isr.clone()), (NO_LEADER, vec![1]));
        let back = with_broker_back(&leaderless, 2, Election::Unclean).unwrap();
        assert_eq!((back.leader, back.isr), (2, vec![2]));
        assert_eq!(
            with_broker_back(&leaderless, 9, Election::Unclean),
            None,
            "not a replica"
        );
    }

    #[test]
    fn ineligible_isr_members_are_not_elected() {
        let after = without_broker(&partition(&[1, 2, 3], &[1, 2, 3], 1), 1, |b| b == 3, Election::Clean).unwrap();
        assert_eq!(after.leader, 3);
    }

    #[test]
    fn new_partitions_lead_with_their_first_eligible_replica() {
        let p = new_partition(4, &[2, 1, 3], |b| b != 2);
        assert_eq!((p.leader, p.isr), (1, vec![1, 3]));
        assert_eq!(new_partition(0, &[2], |_| false).leader, NO_LEADER);
    }

    #[test]
    fn only_partitions_with_the_leader_in_the_isr_and_growing_epochs_are_publishable() {
        let published = partition(&[1, 2, 3], &[1, 2], 1);
        assert_publishable(None, &published);
        let shrunk = PartitionState {
            isr: vec![1],
            partition_epoch: published.partition_epoch + 1,
            ..published.clone()
        };
        assert_publishable(Some(&published), &shrunk);
        let refused = |previous: Option<&PartitionState>, next: PartitionState| {
            std::panic::catch_unwind(|| assert_publishable(previous, &next)).is_err()
        };
        assert!(
            refused(None, partition(&[1, 2, 3], &[2, 3], 1)),
            "leader outside the ISR"
        );
        assert!(
            refused(None, partition(&[1, 2], &[1, 4], 1)),
            "ISR outside the replicas"
        );
        assert!(
            refused(Some(&published), published.clone()),
            "partition epoch not bumped"
        );
        let older = PartitionState {
            leader_epoch: published.leader_epoch - 1,
            partition_epoch: published.partition_epoch + 1,
            ..published.clone()
        };
        assert!(refused(Some(&published), older), "leader epoch went back");
        assert!(
            !refused(None, partition(&[1, 2], &[1], NO_LEADER)),
            "an offline partition"
        );
    }
}
