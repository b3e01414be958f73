//! DescribeTopicPartitions (KIP-966): topics by name, in name order, with at most
//! `response_partition_limit` partitions per answer and a cursor where the next answer
//! starts. Kafka 4's TopicCommand and AdminClient `describeTopics` use it. Brook has no
//! eligible leader replicas, so those lists are empty, as on a Kafka cluster with ELR off.

use std::collections::BTreeSet;

use brook_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use brook_protocol::messages::{DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName};
use brook_protocol::rpc::metadata::MetadataImage;
use brook_protocol::{ErrorCode, StrBytes};

use super::Handlers;
use super::metadata::partition_view;

/// Kafka's `max.request.partition.size.limit` default: no answer holds more.
const MAX_PARTITIONS: i32 = 2000;

impl Handlers {
    pub(super) fn describe_topic_partitions(
        &self,
        request: DescribeTopicPartitionsRequest,
    ) -> DescribeTopicPartitionsResponse {
        let lapsed = self.replicas.lease_lapsed().then_some(self.config.broker_id);
        describe(&self.metadata.image(), &request, lapsed)
    }
}

fn describe(
    image: &MetadataImage,
    request: &DescribeTopicPartitionsRequest,
    lapsed: Option<i32>,
) -> DescribeTopicPartitionsResponse {
    let all = request.topics.is_empty();
    let cursor = request
        .cursor
        .as_ref()
        .map(|c| (c.topic_name.0.as_str(), c.partition_index));
    let from = cursor.map_or("", |(name, _)| name);
    let names: BTreeSet<&str> = if all {
        image
            .topics
            .values()
            .map(|t| t.name.as_str())
            .filter(|n| *n >= from)
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.as_str())
            .filter(|n| *n >= from)
            .collect()
    };
    let bad_cursor = cursor.is_some_and(|(name, partition)| partition < 0 || (!all && !names.contains(name)));
    if bad_cursor {
        // Kafka refuses the whole request: each topic asked for carries the error.
        return DescribeTopicPartitionsResponse::default().with_topics(
            request
                .topics
                .iter()
                .map(|t| missing(t.name.0.as_str(), ErrorCode::InvalidRequest))
                .collect(),
        );
    }
    let mut remaining = request.response_partition_limit.clamp(1, MAX_PARTITIONS) as usize;
    let mut response = DescribeTopicPartitionsResponse::default();
    for name in names {
        if remaining == 0 {
            response.next_cursor = Some(cursor_at(name, 0));
            break;
        }
        let Some(topic) = image.topic_by_name(name) else {
            if !all {
                let code = if brook_protocol::topic_name::validate_topic_name(name).is_ok() {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    ErrorCode::InvalidTopicException
                };
                response.topics.push(missing(name, code));
            }
            continue;
        };
        let start = match cursor {
            Some((at, partition)) if at == name => partition as usize,
            _ => 0,
        };
        let end = topic.partitions.len().min(start.saturating_add(remaining));
        let partitions: Vec<_> = topic
            .partitions
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let view = partition_view(p, image, lapsed);
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(p.partition)
                    .with_leader_id(brook_protocol::messages::BrokerId(view.leader))
                    .with_leader_epoch(p.leader_epoch)
                    .with_replica_nodes(view.replicas)
                    .with_isr_nodes(view.isr)
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new()))
                    .with_offline_replicas(view.offline)
            })
            .collect();
        remaining -= partitions.len();
        response.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
                .with_topic_id(topic.topic_id)
                .with_partitions(partitions),
        );
        if end < topic.partitions.len() {
            response.next_cursor = Some(cursor_at(name, end as i32));
            break;
        }
    }
    response
}

fn cursor_at(name: &str, partition: i32) -> Cursor {
    Cursor::default()
        .with_topic_name(TopicName(StrBytes::from_string(name.to_owned())))
        .with_partition_index(partition)
}

fn missing(name: &str, code: ErrorCode) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(code.code())
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use brook_protocol::messages::describe_topic_partitions_request::{self, TopicRequest};
    use brook_protocol::rpc::metadata::{PartitionState, TopicState};

    use super::*;

    fn image(topics: &[(&str, i32)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        image.brokers.insert(1, crate::handlers::metadata::tests::registered(1));
        for (name, partitions) in topics {
            let id = uuid::Uuid::new_v4();
            image.topics.insert(
                id,
                TopicState {
                    topic_id: id,
                    name: (*name).into(),
                    configs: BTreeMap::new(),
                    partitions: (0..*partitions)
                        .map(|p| PartitionState {
                            partition: p,
                            replicas: vec![1],
                            isr: vec![1],
                            leader: 1,
                            leader_epoch: 0,
                            partition_epoch: 0,
                        })
                        .collect(),
                },
            );
        }
        image
    }

    fn request(topics: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> DescribeTopicPartitionsRequest {
        DescribeTopicPartitionsRequest::default()
            .with_topics(
                topics
                    .iter()
                    .map(|t| TopicRequest::default().with_name(TopicName(StrBytes::from_string((*t).into()))))
                    .collect(),
            )
            .with_response_partition_limit(limit)
            .with_cursor(cursor.map(|(t, p)| {
                describe_topic_partitions_request::Cursor::default()
                    .with_topic_name(TopicName(StrBytes::from_string(t.into())))
                    .with_partition_index(p)
            }))
    }

    /// (topic, error, partitions) of each topic in an answer.
    type Topics = Vec<(String, i16, Vec<i32>)>;

    /// The topics and the next cursor.
    fn shape(response: &DescribeTopicPartitionsResponse) -> (Topics, Option<(String, i32)>) {
        let topics = response
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().unwrap().0.to_string(),
                    t.error_code,
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect();
        let cursor = response
            .next_cursor
            .as_ref()
            .map(|c| (c.topic_name.0.to_string(), c.partition_index));
        (topics, cursor)
    }

    #[test]
    fn pages_through_every_topic_in_name_order() {
        let image = image(&[("b", 3), ("a", 2), ("c", 1)]);
        let first = describe(&image, &request(&[], 4, None), None);
        assert_eq!(
            shape(&first),
            (
                vec![("a".into(), 0, vec![0, 1]), ("b".into(), 0, vec![0, 1])],
                Some(("b".into(), 2))
            )
        );
        let next = describe(&image, &request(&[], 4, Some(("b", 2))), None);
        assert_eq!(
            shape(&next),
            (vec![("b".into(), 0, vec![2]), ("c".into(), 0, vec![0])], None)
        );
        // A page that ends exactly at a topic's end points at the next topic.
        let exact = describe(&image, &request(&[], 2, None), None);
        assert_eq!(
            shape(&exact),
            (vec![("a".into(), 0, vec![0, 1])], Some(("b".into(), 0)))
        );
        let p = &first.topics[0].partitions[0];
        assert_eq!(
            (p.leader_id.0, p.eligible_leader_replicas.as_deref()),
            (1, Some(&[][..]))
        );
    }

    #[test]
    fn named_topics_report_the_missing_and_a_cursor_must_be_among_them() {
        let image = image(&[("a", 1)]);
        let named = describe(&image, &request(&["zz", "a", "bad/name"], 2000, None), None);
        assert_eq!(
            shape(&named).0,
            vec![
                ("a".into(), 0, vec![0]),
                ("bad/name".into(), ErrorCode::InvalidTopicException.code(), vec![]),
                ("zz".into(), ErrorCode::UnknownTopicOrPartition.code(), vec![]),
            ]
        );
        let stray = describe(&image, &request(&["a"], 10, Some(("b", 0))), None);
        assert_eq!(
            shape(&stray).0,
            vec![("a".into(), ErrorCode::InvalidRequest.code(), vec![])]
        );
        let negative = describe(&image, &request(&["a"], 10, Some(("a", -1))), None);
        assert_eq!(negative.topics[0].error_code, ErrorCode::InvalidRequest.code());
    }

    #[test]
    fn a_dead_leader_is_not_named() {
        let image = image(&[("a", 1)]);
        let lapsed = describe(&image, &request(&["a"], 10, None), Some(1));
        let p = &lapsed.topics[0].partitions[0];
        assert_eq!(p.leader_id.0, -1);
        assert_eq!(p.offline_replicas.len(), 1);
    }
}
