//! Metadata: brokers, topics, partitions with leader, epoch, replicas and ISR.
//! Topics that do not exist are created when `auto.create.topics.enable` is on and the
//! client allows it; the client is told `LEADER_NOT_AVAILABLE` and asks again.

use brook_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use brook_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use brook_protocol::rpc::metadata::{MetadataImage, TopicState};
use brook_protocol::rpc::{CreatableTopic, CreateTopics};
use brook_protocol::{ErrorCode, StrBytes};

use super::{Handlers, admin_broker, live_brokers};

fn topic_entry(topic: &TopicState, image: &MetadataImage) -> MetadataResponseTopic {
    let live = |id: i32| image.brokers.get(&id).is_some_and(|b| !b.fenced);
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let leader = if live(p.leader) { p.leader } else { -1 };
            MetadataResponsePartition::default()
                .with_error_code(if leader < 0 {
                    ErrorCode::LeaderNotAvailable.code()
                } else {
                    0
                })
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|b| BrokerId(*b)).collect())
                .with_isr_nodes(p.isr.iter().map(|b| BrokerId(*b)).collect())
                .with_offline_replicas(p.replicas.iter().filter(|b| !live(**b)).map(|b| BrokerId(*b)).collect())
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_partitions(partitions)
}

fn missing_topic(name: &str, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code.code())
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
}

impl Handlers {
    pub(super) async fn metadata(&self, request: MetadataRequest, version: i16) -> MetadataResponse {
        let image = self.metadata.image();
        let live = live_brokers(&image);
        let controller_id = admin_broker(self.config.broker_id, &live);
        let brokers = live
            .into_iter()
            .map(|b| {
                MetadataResponseBroker::default()
                    .with_node_id(b.id)
                    .with_host(b.host)
                    .with_port(b.port)
                    .with_rack(b.rack)
            })
            .collect();
        // Before v4 a request always allowed auto-creation.
        let may_create = self.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
        let topics = match &request.topics {
            None => image.topics.values().map(|t| topic_entry(t, &image)).collect(),
            Some(requested) => {
                let mut entries = Vec::with_capacity(requested.len());
                for wanted in requested {
                    let by_name = wanted.name.as_ref().map(|n| n.0.as_str());
                    let found = match by_name {
                        Some(name) => image.topic_by_name(name),
                        None => image.topics.get(&wanted.topic_id),
                    };
                    entries.push(match (found, by_name) {
                        (Some(topic), _) => topic_entry(topic, &image),
                        (None, Some(name)) if may_create => self.auto_create(name).await,
                        (None, Some(name)) => missing_topic(name, ErrorCode::UnknownTopicOrPartition),
                        (None, None) => MetadataResponseTopic::default()
                            .with_error_code(ErrorCode::UnknownTopicId.code())
                            .with_topic_id(wanted.topic_id),
                    });
                }
                entries
            }
        };
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id(image.cluster_id.map(|id| StrBytes::from_string(id.to_string())))
            // Any broker forwards admin requests to the controller quorum.
            .with_controller_id(controller_id)
            .with_topics(topics)
    }

    async fn auto_create(&self, name: &str) -> MetadataResponseTopic {
        if let Err(reason) = brook_controller::validate_topic_name(name) {
            tracing::debug!(%reason, "not auto-creating");
            return missing_topic(name, ErrorCode::InvalidTopicException);
        }
        let request = CreateTopics {
            topics: vec![CreatableTopic {
                name: name.to_owned(),
                num_partitions: -1,
                replication_factor: -1,
                assignments: vec![],
                configs: vec![],
            }],
            validate_only: false,
        };
        let code = match self.controller.create_topics(request).await {
            Ok(results) if results.first().is_some_and(|r| r.error_code == 0 || r.error_code == 36) => {
                ErrorCode::LeaderNotAvailable
            }
            Ok(results) => {
                tracing::warn!(topic = name, ?results, "auto-creation refused");
                ErrorCode::UnknownTopicOrPartition
            }
            Err(e) => {
                tracing::warn!(topic = name, error = %e, "auto-creation failed");
                ErrorCode::LeaderNotAvailable
            }
        };
        missing_topic(name, code)
    }
}
