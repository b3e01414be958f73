//! KIP-951's leader discovery: a produce or fetch answered `NOT_LEADER_OR_FOLLOWER`
//! names the partition's current leader and that broker's endpoint, as this broker's
//! metadata knows them, so the client goes there without first refreshing its metadata.

use std::collections::BTreeSet;

use brook_protocol::rpc::metadata::MetadataImage;

use super::{LiveBroker, reachable_at};

/// A partition's leader and leader epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CurrentLeader {
    pub leader_id: i32,
    pub leader_epoch: i32,
}

/// The leader of `topic`/`partition` when it is another broker that is live here: a
/// broker never points a client back at itself (its lease may have lapsed while its
/// metadata still names it) nor at a fenced or unknown broker.
pub(super) fn current_leader(image: &MetadataImage, me: i32, topic: &str, partition: i32) -> Option<CurrentLeader> {
    let state = image
        .topic_by_name(topic)?
        .partitions
        .iter()
        .find(|p| p.partition == partition)?;
    let live = image.brokers.get(&state.leader).is_some_and(|b| !b.fenced);
    (state.leader >= 0 && state.leader != me && live).then_some(CurrentLeader {
        leader_id: state.leader,
        leader_epoch: state.leader_epoch,
    })
}

/// The leaders named in one response, whose endpoints it lists once each.
#[derive(Debug, Default)]
pub(super) struct LeaderHints(BTreeSet<i32>);

impl LeaderHints {
    pub fn add(&mut self, leader: i32) {
        self.0.insert(leader);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn endpoints<'a>(&'a self, image: &'a MetadataImage) -> impl Iterator<Item = LiveBroker> + 'a {
        self.0
            .iter()
            .filter_map(|id| image.brokers.get(id))
            .filter_map(reachable_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brook_protocol::rpc::metadata::{BrokerRegistration, Endpoint, PartitionState, TopicState};

    fn image(leader: i32, fenced: bool) -> MetadataImage {
        let topic_id = uuid::Uuid::new_v4();
        let broker = |id: i32, fenced: bool| BrokerRegistration {
            broker_id: id,
            incarnation_id: uuid::Uuid::new_v4(),
            broker_epoch: 1,
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9090 + id as u16,
            }],
            rack: None,
            fenced,
            log_dirs: vec![],
        };
        MetadataImage {
            version: 1,
            brokers: [(1, broker(1, false)), (2, broker(2, fenced))].into(),
            topics: [(
                topic_id,
                TopicState {
                    topic_id,
                    name: "t".into(),
                    configs: Default::default(),
                    partitions: vec![PartitionState {
                        partition: 0,
                        replicas: vec![1, 2],
                        isr: vec![1, 2],
                        leader,
                        leader_epoch: 7,
                        partition_epoch: 3,
                    }],
                },
            )]
            .into(),
            ..Default::default()
        }
    }

    #[test]
    fn names_another_live_leader_only() {
        let moved = image(2, false);
        assert_eq!(
            current_leader(&moved, 1, "t", 0),
            Some(CurrentLeader {
                leader_id: 2,
                leader_epoch: 7
            })
        );
        assert_eq!(current_leader(&moved, 2, "t", 0), None, "never itself");
        assert_eq!(current_leader(&image(2, true), 1, "t", 0), None, "not a fenced broker");
        assert_eq!(current_leader(&image(-1, false), 1, "t", 0), None, "no leader");
        assert_eq!(current_leader(&moved, 1, "t", 1), None, "no such partition");
        assert_eq!(current_leader(&moved, 1, "u", 0), None, "no such topic");

        let mut hints = LeaderHints::default();
        hints.add(2);
        hints.add(2);
        let endpoints: Vec<(i32, i32)> = hints.endpoints(&moved).map(|b| (b.id.0, b.port)).collect();
        assert_eq!(endpoints, [(2, 9092)], "each leader once, with its endpoint");
    }
}
