//! Automatic leader rebalancing (Kafka's `auto.leader.rebalance.enable`): after brokers
//! fail and return, leadership piles up on the survivors. Every partition prefers its
//! first replica; a broker that fails to lead more than
//! `leader.imbalance.per.broker.percentage` of the partitions that prefer it gets them
//! back by preferred-leader elections, wherever it is live and in sync.

use std::collections::BTreeMap;

use brook_protocol::rpc::ElectionType;
use brook_protocol::rpc::metadata::{BrokerNodeId, MetadataImage};

use super::reassignments::elect;

/// Per broker: how many partitions prefer it, and those of them it does not lead.
#[derive(Default)]
struct Preference<'a> {
    preferring: usize,
    not_led: Vec<(&'a str, i32)>,
}

/// The partitions (topic, partition) a preferred election should move back to their
/// preferred replica, ordered by topic name then partition. Only those of brokers above
/// the imbalance threshold, and only those an election can move now.
pub fn imbalanced_partitions(image: &MetadataImage, imbalance_percentage: u32) -> Vec<(String, i32)> {
    let live = |b: BrokerNodeId| image.brokers.get(&b).is_some_and(|r| !r.fenced);
    let mut per_broker: BTreeMap<BrokerNodeId, Preference> = BTreeMap::new();
    for topic in image.topics.values() {
        for partition in &topic.partitions {
            let Some(&preferred) = partition.replicas.first() else {
                continue;
            };
            let entry = per_broker.entry(preferred).or_default();
            entry.preferring += 1;
            if partition.leader != preferred {
                entry.not_led.push((topic.name.as_str(), partition.partition));
            }
        }
    }
    let mut moves: Vec<(String, i32)> = Vec::new();
    for Preference { preferring, not_led } in per_broker.into_values() {
        // Integer form of not_led / preferring > percentage / 100.
        if not_led.len() * 100 <= preferring * imbalance_percentage as usize {
            continue;
        }
        for (name, index) in not_led {
            let movable = image
                .topic_by_name(name)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == index))
                .is_some_and(|state| elect(state, ElectionType::Preferred, live).is_ok());
            if movable {
                moves.push((name.to_string(), index));
            }
        }
    }
    moves.sort();
    moves
}

#[cfg(test)]
mod tests {
    use brook_protocol::rpc::metadata::{BrokerRegistration, PartitionState, TopicState};
    use uuid::Uuid;

    use super::*;

    fn image(
        partitions: &[(&[BrokerNodeId], BrokerNodeId, &[BrokerNodeId])],
        fenced: &[BrokerNodeId],
    ) -> MetadataImage {
        let mut image = MetadataImage::default();
        for id in 1..=3 {
            image.brokers.insert(
                id,
                BrokerRegistration {
                    broker_id: id,
                    incarnation_id: Uuid::new_v4(),
                    broker_epoch: 1,
                    endpoints: vec![],
                    rack: None,
                    fenced: fenced.contains(&id),
                    log_dirs: vec![],
                },
            );
        }
        let topic_id = Uuid::new_v4();
        image.topics.insert(
            topic_id,
            TopicState {
                topic_id,
                name: "t".into(),
                configs: Default::default(),
                partitions: partitions
                    .iter()
                    .enumerate()
                    .map(|(i, (replicas, leader, isr))| PartitionState {
                        partition: i as i32,
                        replicas: replicas.to_vec(),
                        isr: isr.to_vec(),
                        leader: *leader,
                        leader_epoch: 1,
                        partition_epoch: 1,
                    })
                    .collect(),
            },
        );
        image
    }

    #[test]
    fn a_returned_broker_gets_back_the_partitions_that_prefer_it() {
        // Broker 1 came back and is in sync, but 2 and 3 still lead what prefers 1.
        let all: &[BrokerNodeId] = &[1, 2, 3];
        let piled = image(
            &[
                (&[1, 2, 3], 2, all),
                (&[2, 3, 1], 2, all),
                (&[3, 1, 2], 3, all),
                (&[1, 3, 2], 3, all),
            ],
            &[],
        );
        let moves = imbalanced_partitions(&piled, 10);
        assert_eq!(moves, vec![("t".to_string(), 0), ("t".to_string(), 3)]);
    }

    #[test]
    fn nothing_moves_below_the_threshold_or_to_a_broker_that_cannot_lead() {
        let all: &[BrokerNodeId] = &[1, 2, 3];
        let mut partitions: Vec<(&[BrokerNodeId], BrokerNodeId, &[BrokerNodeId])> = vec![(&[1, 2, 3], 1, all); 9];
        partitions.push((&[1, 2, 3], 2, all));
        // 1 of 10 not led: exactly 10 %, not above it.
        assert!(imbalanced_partitions(&image(&partitions, &[]), 10).is_empty());
        assert_eq!(imbalanced_partitions(&image(&partitions, &[]), 5).len(), 1);

        let out_of_sync: &[BrokerNodeId] = &[2, 3];
        let behind = image(&[(&[1, 2, 3], 2, out_of_sync)], &[]);
        assert!(imbalanced_partitions(&behind, 10).is_empty(), "1 is not in the ISR");
        let fenced = image(&[(&[1, 2, 3], 2, all)], &[1]);
        assert!(imbalanced_partitions(&fenced, 10).is_empty(), "1 is fenced");
    }
}
