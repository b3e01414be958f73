//! DescribeCluster and DescribeQuorum: the brokers and the controller quorum.

use brook_protocol::api::METADATA_TOPIC;
use brook_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use brook_protocol::messages::describe_quorum_response::{self, ReplicaState};
use brook_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest, DescribeQuorumResponse,
};
use brook_protocol::{ErrorCode, StrBytes, kafka_uuid};

use super::{Handlers, LiveBroker, admin_broker, live_brokers, reachable_at, unreachable};

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
}
