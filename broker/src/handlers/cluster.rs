//! DescribeCluster, DescribeQuorum, CreatePartitions, OffsetForLeaderEpoch and DeleteRecords.

use brook_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use brook_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use brook_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use brook_protocol::messages::describe_quorum_response::{self, ReplicaState};
use brook_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use brook_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, DeleteRecordsRequest, DeleteRecordsResponse,
    DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest, DescribeQuorumResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use brook_protocol::rpc::{CreatePartitions, NewPartitions};
use brook_protocol::{ErrorCode, StrBytes, kafka_uuid};

use super::admin::unreachable;
use super::{Handlers, LiveBroker, admin_broker, live_brokers, reachable_at};
use brook_protocol::api::METADATA_TOPIC;

impl Handlers {
    /// The live brokers, or (v2, `include_fenced_brokers`) every registered one with
    /// whether it is fenced. Brokers list only brokers: the controllers' endpoints
    /// (`endpoint_type` 2, KIP-919) are asked of the controllers themselves.
    pub(super) fn describe_cluster(&self, request: &DescribeClusterRequest) -> DescribeClusterResponse {
        const BROKERS: i8 = 1;
        if request.endpoint_type != BROKERS {
            return DescribeClusterResponse::default()
                .with_endpoint_type(request.endpoint_type)
                .with_error_code(ErrorCode::MismatchedEndpointType.code())
                .with_error_message(Some(StrBytes::from_static_str(
                    "brokers describe broker endpoints only (endpoint type 1)",
                )));
        }
        let image = self.metadata.image();
        let live = live_brokers(&image);
        let controller_id = admin_broker(self.config.broker_id, &live);
        let listed: Vec<(LiveBroker, bool)> = if request.include_fenced_brokers {
            image
                .brokers
                .values()
                .filter_map(|b| Some((reachable_at(b)?, b.fenced)))
                .collect()
        } else {
            live.into_iter().map(|b| (b, false)).collect()
        };
        let brokers = listed
            .into_iter()
            .map(|(b, fenced)| {
                DescribeClusterBroker::default()
                    .with_broker_id(b.id)
                    .with_host(b.host)
                    .with_port(b.port)
                    .with_rack(b.rack)
                    .with_is_fenced(fenced)
            })
            .collect();
        DescribeClusterResponse::default()
            .with_endpoint_type(BROKERS)
            .with_cluster_id(StrBytes::from_string(
                image
                    .cluster_id
                    .map(|id| kafka_uuid::to_kafka_string(&id))
                    .unwrap_or_default(),
            ))
            .with_controller_id(controller_id)
            .with_brokers(brokers)
    }

    /// The controller quorum (KIP-595's DescribeQuorum, which Kafka brokers forward to
    /// the controllers): its leader, term as the epoch, commit index as the high
    /// watermark, and each voter's replicated log end and answer times as the leader
    /// knows them.
    pub(super) async fn describe_quorum(&self, request: DescribeQuorumRequest, version: i16) -> DescribeQuorumResponse {
        let info = match self.controller.describe_quorum().await {
            Ok(info) => info,
            Err(error) => {
                let (code, message) = unreachable(&error);
                return DescribeQuorumResponse::default()
                    .with_error_code(code)
                    .with_error_message(message);
            }
        };
        let topics = request
            .topics
            .into_iter()
            .map(|topic| {
                let known = topic.topic_name.0.as_str() == METADATA_TOPIC;
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let answer =
                            describe_quorum_response::PartitionData::default().with_partition_index(p.partition_index);
                        if !known || p.partition_index != 0 {
                            return answer.with_error_code(ErrorCode::UnknownTopicOrPartition.code());
                        }
                        let voters = info
                            .voters
                            .iter()
                            .map(|v| {
                                ReplicaState::default()
                                    .with_replica_id(BrokerId(v.node_id as i32))
                                    .with_log_end_offset(v.matched_index.map_or(-1, |i| i as i64))
                                    .with_last_fetch_timestamp(v.last_fetch_ms.unwrap_or(-1))
                                    .with_last_caught_up_timestamp(v.last_caught_up_ms.unwrap_or(-1))
                            })
                            .collect();
                        answer
                            .with_leader_id(BrokerId(info.leader.map_or(-1, |l| l as i32)))
                            .with_leader_epoch(i32::try_from(info.term).unwrap_or(i32::MAX))
                            .with_high_watermark(info.commit_index as i64)
                            .with_current_voters(voters)
                    })
                    .collect();
                describe_quorum_response::TopicData::default()
                    .with_topic_name(topic.topic_name)
                    .with_partitions(partitions)
            })
            .collect();
        let response = DescribeQuorumResponse::default().with_topics(topics);
        if version < 2 {
            return response;
        }
        // v2 (KIP-853) names each voter's endpoint, which `kafka-metadata-quorum` shows.
        let nodes = info
            .voters
            .iter()
            .map(|v| {
                describe_quorum_response::Node::default()
                    .with_node_id(BrokerId(v.node_id as i32))
                    .with_listeners(vec![
                        describe_quorum_response::Listener::default()
                            .with_name(StrBytes::from_static_str("CONTROLLER"))
                            .with_host(StrBytes::from_string(v.address.host.clone()))
                            .with_port(v.address.port),
                    ])
            })
            .collect();
        response.with_nodes(nodes)
    }

    pub(super) async fn create_partitions(&self, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
        let forwarded = CreatePartitions {
            topics: request
                .topics
                .iter()
                .map(|t| NewPartitions {
                    name: t.name.0.to_string(),
                    total_count: t.count,
                    assignments: t
                        .assignments
                        .iter()
                        .flatten()
                        .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                        .collect(),
                })
                .collect(),
            validate_only: request.validate_only,
        };
        let results = match self.controller.create_partitions(forwarded).await {
            Ok(results) => results
                .into_iter()
                .map(|r| (r.name, r.error_code, r.error_message))
                .collect(),
            Err(error) => {
                let code = error.kafka_code().unwrap_or(ErrorCode::RequestTimedOut.code());
                request
                    .topics
                    .iter()
                    .map(|t| (t.name.0.to_string(), code, Some(error.to_string())))
                    .collect::<Vec<_>>()
            }
        };
        let grown: Vec<(String, i32)> = results
            .iter()
            .filter(|(_, code, _)| *code == 0 && !request.validate_only)
            .filter_map(|(name, ..)| {
                let wanted = request.topics.iter().find(|t| t.name.0.as_str() == name.as_str())?;
                Some((name.clone(), wanted.count))
            })
            .collect();
        self.until_metadata_shows(|image| {
            grown.iter().all(|(name, count)| {
                image
                    .topic_by_name(name)
                    .is_some_and(|t| t.partitions.len() as i32 >= *count)
            })
        })
        .await;
        let results = results
            .into_iter()
            .map(|(name, code, message)| {
                CreatePartitionsTopicResult::default()
                    .with_name(brook_protocol::messages::TopicName(StrBytes::from_string(name)))
                    .with_error_code(code)
                    .with_error_message(message.map(StrBytes::from_string))
            })
            .collect();
        CreatePartitionsResponse::default().with_results(results)
    }

    /// KIP-101/279: the end offset of the requested leader epoch on this leader.
    pub(super) fn offset_for_leader_epoch(&self, request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        let topics = request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let answer = EpochEndOffset::default()
                            .with_partition(p.partition)
                            .with_leader_epoch(-1)
                            .with_end_offset(-1);
                        let partition = match self.led_partition(t.topic.0.as_str(), p.partition) {
                            Ok(partition) => partition,
                            Err(code) => return answer.with_error_code(code.code()),
                        };
                        if let Err(code) = partition.check_leader_epoch(p.current_leader_epoch) {
                            return answer.with_error_code(code.code());
                        }
                        let (epoch, end_offset) = partition.log.end_offset_for_epoch(p.leader_epoch);
                        answer.with_leader_epoch(epoch).with_end_offset(end_offset)
                    })
                    .collect();
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(partitions)
            })
            .collect();
        OffsetForLeaderEpochResponse::default().with_topics(topics)
    }

    /// Moves the log start offset (-1: to the high watermark); whole segments below it
    /// are removed by retention.
    pub(super) async fn delete_records(&self, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
        let mut work = Vec::new();
        for t in &request.topics {
            for p in &t.partitions {
                work.push((self.led_partition(t.name.0.as_str(), p.partition_index), p.offset));
            }
        }
        let outcomes = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(partition, offset)| {
                    let partition = partition.map_err(|code| code.code())?;
                    let log = &partition.log;
                    let target = if offset == -1 { log.high_watermark() } else { offset };
                    if target < 0 || target > log.high_watermark() {
                        return Err(ErrorCode::OffsetOutOfRange.code());
                    }
                    log.advance_log_start_offset(target).map_err(|e| e.kafka_code().code())
                })
                .collect::<Vec<Result<i64, i16>>>()
        })
        .await
        .unwrap_or_default();
        let mut outcomes = outcomes.into_iter();
        let topics = request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let outcome = outcomes.next().unwrap_or(Err(ErrorCode::UnknownServerError.code()));
                        let answer = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
                        match outcome {
                            Ok(low_watermark) => answer.with_low_watermark(low_watermark),
                            Err(code) => answer.with_low_watermark(-1).with_error_code(code),
                        }
                    })
                    .collect();
                DeleteRecordsTopicResult::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        DeleteRecordsResponse::default().with_topics(topics)
    }
}
