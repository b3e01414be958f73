//! Replica placement for new topics and partitions: spread preferred leaders and
//! replicas evenly over the unfenced brokers, counting what they already host, and put
//! the replicas of one partition on different racks while racks remain unused.

use std::collections::{BTreeMap, HashSet};

use brook_protocol::rpc::metadata::{BrokerNodeId, MetadataImage};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replication factor {requested} is larger than the {available} available brokers")]
pub struct NotEnoughBrokers {
    pub requested: usize,
    pub available: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Load {
    leaders: usize,
    replicas: usize,
}

/// Replica lists for `count` new partitions with `replication_factor` replicas each; the
/// first replica of each list is its preferred leader.
pub fn place_partitions(
    image: &MetadataImage,
    count: usize,
    replication_factor: usize,
) -> Result<Vec<Vec<BrokerNodeId>>, NotEnoughBrokers> {
    let mut loads: BTreeMap<BrokerNodeId, Load> = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| (b.broker_id, Load::default()))
        .collect();
    if replication_factor == 0 || replication_factor > loads.len() {
        return Err(NotEnoughBrokers {
            requested: replication_factor,
            available: loads.len(),
        });
    }
    for partition in image.topics.values().flat_map(|t| &t.partitions) {
        for (i, replica) in partition.replicas.iter().enumerate() {
            if let Some(load) = loads.get_mut(replica) {
                load.replicas += 1;
                load.leaders += usize::from(i == 0);
            }
        }
    }
    let rack_of = |id: BrokerNodeId| image.brokers.get(&id).and_then(|b| b.rack.clone());
    let brokers: Vec<BrokerNodeId> = loads.keys().copied().collect();

    let mut placements = Vec::with_capacity(count);
    for _ in 0..count {
        let leader = *brokers
            .iter()
            .min_by_key(|id| (loads[id].leaders, loads[id].replicas, **id))
            .expect("at least one broker");
        let mut replicas = vec![leader];
        let mut racks: HashSet<Option<String>> = HashSet::from([rack_of(leader)]);
        let leader_pos = brokers.iter().position(|b| *b == leader).unwrap_or(0);
        while replicas.len() < replication_factor {
            // Rotate the tie-break by the leader's position so that followers of
            // different leaders differ, instead of always being the lowest ids.
            let next = brokers
                .iter()
                .enumerate()
                .filter(|(_, id)| !replicas.contains(id))
                .min_by_key(|(pos, id)| {
                    let rack_used = racks.contains(&rack_of(**id)) && rack_of(**id).is_some();
                    let rotation = (pos + brokers.len() - leader_pos) % brokers.len();
                    (rack_used, loads[*id].replicas, rotation)
                })
                .map(|(_, id)| *id)
                .expect("replication factor checked against the broker count");
            racks.insert(rack_of(next));
            replicas.push(next);
        }
        for (i, id) in replicas.iter().enumerate() {
            let load = loads.get_mut(id).expect("placed on a known broker");
            load.replicas += 1;
            load.leaders += usize::from(i == 0);
        }
        placements.push(replicas);
    }
    Ok(placements)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use brook_protocol::rpc::metadata::{BrokerRegistration, PartitionState, TopicState};
    use uuid::Uuid;

    use super::*;

    fn image(brokers: &[(BrokerNodeId, Option<&str>, bool)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (id, rack, fenced) in brokers {
            image.brokers.insert(
                *id,
                BrokerRegistration {
                    broker_id: *id,
                    incarnation_id: Uuid::new_v4(),
                    broker_epoch: 1,
                    endpoints: vec![],
                    rack: rack.map(str::to_string),
                    fenced: *fenced,
                    log_dirs: vec![],
                },
            );
        }
        image
    }

    fn counts(placements: &[Vec<BrokerNodeId>]) -> (BTreeMap<BrokerNodeId, usize>, BTreeMap<BrokerNodeId, usize>) {
        let mut leaders = BTreeMap::new();
        let mut replicas = BTreeMap::new();
        for p in placements {
            *leaders.entry(p[0]).or_default() += 1;
            for r in p {
                *replicas.entry(*r).or_default() += 1;
            }
        }
        (leaders, replicas)
    }

    #[test]
    fn leaders_and_replicas_spread_evenly() {
        let image = image(&[(1, None, false), (2, None, false), (3, None, false)]);
        let placements = place_partitions(&image, 6, 2).unwrap();
        let (leaders, replicas) = counts(&placements);
        assert_eq!(leaders.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);
        assert_eq!(replicas.values().copied().collect::<Vec<_>>(), vec![4, 4, 4]);
        for p in &placements {
            let distinct: HashSet<_> = p.iter().collect();
            assert_eq!(distinct.len(), p.len(), "a replica list repeats a broker: {p:?}");
        }
    }

    #[test]
    fn existing_load_is_counted_and_fenced_brokers_are_skipped() {
        let mut image = image(&[(1, None, false), (2, None, false), (3, None, true)]);
        image.topics.insert(
            Uuid::new_v4(),
            TopicState {
                topic_id: Uuid::new_v4(),
                name: "old".into(),
                configs: BTreeMap::new(),
                partitions: vec![PartitionState {
                    partition: 0,
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                }],
            },
        );
        assert_eq!(place_partitions(&image, 1, 1).unwrap(), vec![vec![2]]);
        assert_eq!(
            place_partitions(&image, 1, 3).unwrap_err(),
            NotEnoughBrokers {
                requested: 3,
                available: 2
            }
        );
    }

    #[test]
    fn replicas_of_one_partition_use_different_racks() {
        let image = image(&[
            (1, Some("a"), false),
            (2, Some("a"), false),
            (3, Some("b"), false),
            (4, Some("b"), false),
        ]);
        for p in place_partitions(&image, 8, 2).unwrap() {
            let racks: HashSet<_> = p.iter().map(|id| if *id <= 2 { "a" } else { "b" }).collect();
            assert_eq!(racks.len(), 2, "both replicas on one rack: {p:?}");
        }
    }
}
