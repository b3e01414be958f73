//! Partition assignors, run by the member the coordinator makes group leader. Both give
//! the same answer as the Java client's and librdkafka's assignors of the same name, so
//! a Brook consumer can lead a group of other clients.

use std::collections::BTreeMap;

/// A `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignor {
    /// Per topic, contiguous ranges of partitions; the first members get one more when
    /// the partitions do not divide evenly.
    Range,
    /// All partitions of all topics, dealt one at a time to the members subscribed to them.
    RoundRobin,
}

impl Assignor {
    /// The protocol name the group protocol carries.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
        }
    }

    pub fn from_name(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "roundrobin" => Some(Assignor::RoundRobin),
            _ => None,
        }
    }

    /// Assigns the partitions of `partition_counts` (topic -> count) to `members`
    /// (member id -> subscribed topics). Every member appears in the answer, possibly
    /// with nothing.
    pub fn assign(
        self,
        members: &BTreeMap<String, Vec<String>>,
        partition_counts: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<(String, Vec<i32>)>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> =
            members.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
        match self {
            Assignor::Range => {
                for (topic, &count) in partition_counts {
                    let subscribers: Vec<&String> = members
                        .iter()
                        .filter(|(_, topics)| topics.contains(topic))
                        .map(|(m, _)| m)
                        .collect();
                    if subscribers.is_empty() {
                        continue;
                    }
                    let each = count as usize / subscribers.len();
                    let extra = count as usize % subscribers.len();
                    let mut next = 0;
                    for (i, member) in subscribers.into_iter().enumerate() {
                        let take = each + usize::from(i < extra);
                        let partitions = (next..next + take).map(|p| p as i32);
                        out.entry(member.clone())
                            .or_default()
                            .entry(topic.clone())
                            .or_default()
                            .extend(partitions);
                        next += take;
                    }
                }
            }
            Assignor::RoundRobin => {
                let ids: Vec<&String> = members.keys().collect();
                let mut turn = 0;
                for (topic, &count) in partition_counts {
                    for partition in 0..count {
                        // The next member in the circle that subscribes to this topic.
                        let Some(step) = (0..ids.len()).find(|s| members[ids[(turn + s) % ids.len()]].contains(topic))
                        else {
                            break;
                        };
                        let member = ids[(turn + step) % ids.len()];
                        out.entry(member.clone())
                            .or_default()
                            .entry(topic.clone())
                            .or_default()
                            .push(partition);
                        turn = (turn + step + 1) % ids.len();
                    }
                }
            }
        }
        out.into_iter()
            .map(|(member, topics)| (member, topics.into_iter().filter(|(_, p)| !p.is_empty()).collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        list.iter()
            .map(|(m, topics)| (m.to_string(), topics.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, c)| (t.to_string(), *c)).collect()
    }

    fn of(assignment: &BTreeMap<String, Vec<(String, Vec<i32>)>>, member: &str) -> Vec<(String, Vec<i32>)> {
        assignment[member].clone()
    }

    #[test]
    fn range_gives_the_first_members_the_remainder() {
        let got = Assignor::Range.assign(
            &members(&[("a", &["t", "u"]), ("b", &["t", "u"])]),
            &counts(&[("t", 3), ("u", 2)]),
        );
        assert_eq!(of(&got, "a"), [("t".into(), vec![0, 1]), ("u".into(), vec![0])]);
        assert_eq!(of(&got, "b"), [("t".into(), vec![2]), ("u".into(), vec![1])]);
    }

    #[test]
    fn round_robin_deals_across_topics_and_skips_members_not_subscribed() {
        let got = Assignor::RoundRobin.assign(
            &members(&[("a", &["t", "u"]), ("b", &["t"]), ("c", &["u"])]),
            &counts(&[("t", 3), ("u", 3)]),
        );
        assert_eq!(of(&got, "a"), [("t".into(), vec![0, 2]), ("u".into(), vec![1])]);
        assert_eq!(of(&got, "b"), [("t".into(), vec![1])]);
        assert_eq!(of(&got, "c"), [("u".into(), vec![0, 2])]);
    }

    #[test]
    fn every_partition_goes_to_exactly_one_member_and_idle_members_get_nothing() {
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let got = assignor.assign(
                &members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]),
                &counts(&[("t", 2)]),
            );
            let mut all: Vec<i32> = got.values().flatten().flat_map(|(_, p)| p.clone()).collect();
            all.sort_unstable();
            assert_eq!(all, [0, 1], "{assignor:?}");
            assert_eq!(got.len(), 3);
            assert!(got.values().any(|topics| topics.is_empty()));
        }
    }
}
