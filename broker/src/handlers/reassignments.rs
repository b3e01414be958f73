//! Partition reassignment and leader elections from Kafka admin clients
//! (AlterPartitionReassignments, ListPartitionReassignments, ElectLeaders), forwarded to
//! the controller quorum, which decides and records them.

use brook_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use brook_protocol::messages::elect_leaders_response::{self, ReplicaElectionResult};
use brook_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use brook_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId, ElectLeadersRequest,
    ElectLeadersResponse, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use brook_protocol::rpc::{ElectLeaders, ElectionType, PartitionResult, ReassignPartition};
use brook_protocol::{ErrorCode, StrBytes};

use super::{Handlers, unreachable};

/// Results grouped by topic, topics in order of first appearance.
fn by_topic<T>(results: Vec<PartitionResult>, each: impl Fn(PartitionResult) -> T) -> Vec<(String, Vec<T>)> {
    let mut topics: Vec<(String, Vec<T>)> = Vec::new();
    for result in results {
        let index = match topics.iter().position(|(name, _)| *name == result.topic) {
            Some(index) => index,
            None => {
                topics.push((result.topic.clone(), Vec::new()));
                topics.len() - 1
            }
        };
        topics[index].1.push(each(result));
    }
    topics
}

fn topic_name(name: String) -> TopicName {
    TopicName(StrBytes::from_string(name))
}

fn broker_ids(ids: Vec<i32>) -> Vec<BrokerId> {
    ids.into_iter().map(BrokerId).collect()
}

impl Handlers {
    pub(super) async fn alter_partition_reassignments(
        &self,
        request: AlterPartitionReassignmentsRequest,
    ) -> AlterPartitionReassignmentsResponse {
        let mut forwarded: Vec<ReassignPartition> = request
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| ReassignPartition {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    target: p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect()),
                })
            })
            .collect();
        let mut refused = Vec::new();
        if !request.allow_replication_factor_change {
            match self.replication_factor_changes(&forwarded).await {
                Ok(changes) => {
                    forwarded.retain(|r| {
                        !changes
                            .iter()
                            .any(|c| (&c.topic, c.partition) == (&r.topic, r.partition))
                    });
                    refused = changes;
                }
                Err(error) => {
                    let (code, message) = unreachable(&error);
                    return AlterPartitionReassignmentsResponse::default()
                        .with_error_code(code)
                        .with_error_message(message);
                }
            }
        }
        let results = match self.controller.alter_reassignments(forwarded).await {
            Ok(results) => results,
            Err(error) => {
                let (code, message) = unreachable(&error);
                return AlterPartitionReassignmentsResponse::default()
                    .with_error_code(code)
                    .with_error_message(message);
            }
        };
        let results = results.into_iter().chain(refused).collect();
        let responses = by_topic(results, |r| {
            ReassignablePartitionResponse::default()
                .with_partition_index(r.partition)
                .with_error_code(r.error_code)
                .with_error_message(r.error_message.map(StrBytes::from_string))
        })
        .into_iter()
        .map(|(name, partitions)| {
            ReassignableTopicResponse::default()
                .with_name(topic_name(name))
                .with_partitions(partitions)
        })
        .collect();
        AlterPartitionReassignmentsResponse::default().with_responses(responses)
    }

    /// KIP-860 (v1, `allowReplicationFactorChange` false): the targets whose size is not
    /// the partition's replication factor (its replicas before any move in progress),
    /// each answered `INVALID_REPLICATION_FACTOR`. Partitions this broker does not know
    /// are left to the controller to answer.
    async fn replication_factor_changes(
        &self,
        reassignments: &[ReassignPartition],
    ) -> Result<Vec<PartitionResult>, brook_controller_client::ClientError> {
        let named = reassignments.iter().map(|r| (r.topic.clone(), r.partition)).collect();
        let ongoing = self.controller.list_reassignments(Some(named)).await?;
        let image = self.metadata.image();
        let replication_factor = |topic: &str, partition: i32| {
            let moving = ongoing.iter().find(|o| o.topic == topic && o.partition == partition);
            match moving {
                Some(o) => Some(o.replicas.len() - o.adding.len()),
                None => image
                    .topic_by_name(topic)?
                    .partitions
                    .iter()
                    .find(|p| p.partition == partition)
                    .map(|p| p.replicas.len()),
            }
        };
        Ok(reassignments
            .iter()
            .filter_map(|r| {
                let target = r.target.as_ref()?.len();
                let current = replication_factor(&r.topic, r.partition)?;
                (target != current).then(|| PartitionResult {
                    topic: r.topic.clone(),
                    partition: r.partition,
                    error_code: ErrorCode::InvalidReplicationFactor.code(),
                    error_message: Some(format!(
                        "the replication factor would change from {current} to {target}, but \
                         allowReplicationFactorChange is false"
                    )),
                })
            })
            .collect())
    }

    pub(super) async fn list_partition_reassignments(
        &self,
        request: ListPartitionReassignmentsRequest,
    ) -> ListPartitionReassignmentsResponse {
        let named = request.topics.map(|topics| {
            topics
                .iter()
                .flat_map(|t| t.partition_indexes.iter().map(|p| (t.name.0.to_string(), *p)))
                .collect()
        });
        let ongoing = match self.controller.list_reassignments(named).await {
            Ok(ongoing) => ongoing,
            Err(error) => {
                let (code, message) = unreachable(&error);
                return ListPartitionReassignmentsResponse::default()
                    .with_error_code(code)
                    .with_error_message(message);
            }
        };
        let mut topics: Vec<OngoingTopicReassignment> = Vec::new();
        for reassignment in ongoing {
            let partition = OngoingPartitionReassignment::default()
                .with_partition_index(reassignment.partition)
                .with_replicas(broker_ids(reassignment.replicas))
                .with_adding_replicas(broker_ids(reassignment.adding))
                .with_removing_replicas(broker_ids(reassignment.removing));
            match topics.iter_mut().find(|t| t.name.0.as_str() == reassignment.topic) {
                Some(topic) => topic.partitions.push(partition),
                None => topics.push(
                    OngoingTopicReassignment::default()
                        .with_name(topic_name(reassignment.topic))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        ListPartitionReassignmentsResponse::default().with_topics(topics)
    }

    pub(super) async fn elect_leaders(&self, request: ElectLeadersRequest, version: i16) -> ElectLeadersResponse {
        // v0 has no type: it always meant the preferred replica.
        let election_type = match (version, request.election_type) {
            (0, _) | (_, 0) => ElectionType::Preferred,
            (_, 1) => ElectionType::Unclean,
            // Kafka defines no other type.
            _ => return ElectLeadersResponse::default().with_error_code(ErrorCode::InvalidRequest.code()),
        };
        let partitions = request.topic_partitions.as_ref().map(|topics| {
            topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
                .collect()
        });
        let results = match self
            .controller
            .elect_leaders(ElectLeaders {
                election_type,
                partitions,
            })
            .await
        {
            // The client's next Metadata request here should show the new leaders.
            Ok(applied) => {
                self.until_metadata_reaches(applied.metadata_version).await;
                applied.results
            }
            Err(error) => {
                let (code, _) = unreachable(&error);
                return ElectLeadersResponse::default().with_error_code(code);
            }
        };
        let results = by_topic(results, |r| {
            elect_leaders_response::PartitionResult::default()
                .with_partition_id(r.partition)
                .with_error_code(r.error_code)
                .with_error_message(r.error_message.map(StrBytes::from_string))
        })
        .into_iter()
        .map(|(name, partitions)| {
            ReplicaElectionResult::default()
                .with_topic(topic_name(name))
                .with_partition_result(partitions)
        })
        .collect();
        ElectLeadersResponse::default().with_replica_election_results(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(topic: &str, partition: i32) -> PartitionResult {
        PartitionResult {
            topic: topic.into(),
            partition,
            error_code: 0,
            error_message: None,
        }
    }

    #[test]
    fn results_group_by_topic_in_order_of_appearance() {
        let grouped = by_topic(vec![result("b", 0), result("a", 1), result("b", 2)], |r| r.partition);
        assert_eq!(grouped, vec![("b".to_string(), vec![0, 2]), ("a".to_string(), vec![1])]);
    }
}
