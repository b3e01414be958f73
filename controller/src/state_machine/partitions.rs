//! Leader and ISR changes that follow from a broker being fenced or coming back, and the
//! state of a new partition. Pure functions over one partition, so every controller
//! computes the same result from the same image.

use brook_protocol::rpc::metadata::{BrokerId, PartitionState};

/// Kafka's `NO_LEADER`.
pub const NO_LEADER: BrokerId = -1;

/// A new partition: the ISR is its eligible replicas, the first of them leads.
pub fn new_partition(partition: i32, replicas: &[BrokerId], eligible: impl Fn(BrokerId) -> bool) -> PartitionState {
    let isr: Vec<BrokerId> = replicas.iter().copied().filter(|b| eligible(*b)).collect();
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
/// the next eligible ISR member in replica order. `None` when nothing changes.
pub fn without_broker(
    state: &PartitionState,
    broker: BrokerId,
    eligible: impl Fn(BrokerId) -> bool,
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
        next.leader = state
            .replicas
            .iter()
            .copied()
            .find(|b| *b != broker && next.isr.contains(b) && eligible(*b))
            .unwrap_or(NO_LEADER);
        next.leader_epoch += 1;
    }
    if next == *state {
        return None;
    }
    next.partition_epoch += 1;
    Some(next)
}

/// `broker` is back: a leaderless partition whose ISR holds it gets it as leader.
pub fn with_broker_back(state: &PartitionState, broker: BrokerId) -> Option<PartitionState> {
    if state.leader != NO_LEADER || !state.isr.contains(&broker) {
        return None;
    }
    let mut next = state.clone();
    next.leader = broker;
    next.leader_epoch += 1;
    next.partition_epoch += 1;
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(replicas: &[BrokerId], isr: &[BrokerId], leader: BrokerId) -> PartitionState {
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
        let after = without_broker(&before, 1, |_| true).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (2, vec![3, 2]));
        assert_eq!((after.leader_epoch, after.partition_epoch), (4, 8));
    }

    #[test]
    fn a_fenced_follower_leaves_the_isr_without_a_new_leader_epoch() {
        let after = without_broker(&partition(&[1, 2, 3], &[1, 2, 3], 1), 3, |_| true).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (1, vec![1, 2]));
        assert_eq!((after.leader_epoch, after.partition_epoch), (3, 8));
        assert_eq!(without_broker(&partition(&[1, 2, 3], &[1, 2], 1), 3, |_| true), None);
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_goes_leaderless_until_it_returns() {
        let after = without_broker(&partition(&[1, 2], &[1], 1), 1, |_| true).unwrap();
        assert_eq!((after.leader, after.isr.clone()), (NO_LEADER, vec![1]));
        assert_eq!(
            with_broker_back(&after, 2),
            None,
            "2 is not in the ISR: no unclean election"
        );
        let back = with_broker_back(&after, 1).unwrap();
        assert_eq!((back.leader, back.leader_epoch), (1, 5));
    }

    #[test]
    fn ineligible_isr_members_are_not_elected() {
        let after = without_broker(&partition(&[1, 2, 3], &[1, 2, 3], 1), 1, |b| b == 3).unwrap();
        assert_eq!(after.leader, 3);
    }

    #[test]
    fn new_partitions_lead_with_their_first_eligible_replica() {
        let p = new_partition(4, &[2, 1, 3], |b| b != 2);
        assert_eq!((p.leader, p.isr), (1, vec![1, 3]));
        assert_eq!(new_partition(0, &[2], |_| false).leader, NO_LEADER);
    }
}
