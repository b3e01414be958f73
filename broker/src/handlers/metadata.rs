//! Metadata: brokers, topics, partitions with leader, epoch, replicas and ISR.
//! Topics that do not exist are created when `auto.create.topics.enable` is on and the
//! client allows it; the client is told `LEADER_NOT_AVAILABLE` and asks again.

use brook_protocol::messages::metadata_request::MetadataRequestTopic;
use brook_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use brook_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use brook_protocol::rpc::metadata::{MetadataImage, PartitionState, TopicState};
use brook_protocol::rpc::{CreatableTopic, CreateTopics};
use brook_protocol::{ErrorCode, StrBytes, kafka_uuid};

use super::{Handlers, NO_ERROR, admin_broker, live_brokers};

/// A partition as clients are told of it: its leader only if live, and the replicas that
/// are not.
pub(super) struct PartitionView {
    pub leader: i32,
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub offline: Vec<BrokerId>,
}

/// `lapsed`: this broker, when its lease with the controller has lapsed. It may have been
/// fenced and replaced without hearing so, so it does not name itself leader (nor, in the
/// answer's broker list, live): a client that asked it would otherwise come straight back
/// to it instead of finding the new leader.
pub(super) fn partition_view(p: &PartitionState, image: &MetadataImage, lapsed: Option<i32>) -> PartitionView {
    let live = |id: i32| lapsed != Some(id) && image.brokers.get(&id).is_some_and(|b| !b.fenced);
    let ids = |list: &[i32]| list.iter().map(|b| BrokerId(*b)).collect();
    PartitionView {
        leader: if live(p.leader) { p.leader } else { -1 },
        replicas: ids(&p.replicas),
        isr: ids(&p.isr),
        offline: p.replicas.iter().filter(|b| !live(**b)).map(|b| BrokerId(*b)).collect(),
    }
}

fn topic_entry(topic: &TopicState, image: &MetadataImage, lapsed: Option<i32>) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let view = partition_view(p, image, lapsed);
            MetadataResponsePartition::default()
                .with_error_code(if view.leader < 0 {
                    ErrorCode::LeaderNotAvailable.code()
                } else {
                    0
                })
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(view.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(view.replicas)
                .with_isr_nodes(view.isr)
                .with_offline_replicas(view.offline)
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_partitions(partitions)
}

/// What a Metadata request's topic entry names, looked up in the image.
enum Requested<'a> {
    Found(&'a TopicState),
    MissingName(&'a str),
    MissingId(uuid::Uuid),
}

/// A topic id (v12+) wins over the name, which the Java client sends empty beside it;
/// Kafka's broker reads it the same way.
fn look_up<'a>(image: &'a MetadataImage, wanted: &'a MetadataRequestTopic, version: i16) -> Requested<'a> {
    let by_id = version >= 12 && !wanted.topic_id.is_nil();
    match wanted.name.as_ref().map(|n| n.0.as_str()) {
        Some(name) if !by_id => image
            .topic_by_name(name)
            .map_or(Requested::MissingName(name), Requested::Found),
        _ => image
            .topics
            .get(&wanted.topic_id)
            .map_or(Requested::MissingId(wanted.topic_id), Requested::Found),
    }
}

fn missing_topic(name: &str, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code.code())
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
}

impl Handlers {
    pub(super) async fn metadata(&self, request: MetadataRequest, version: i16) -> MetadataResponse {
        let image = self.metadata.image();
        let lapsed = self.replicas.lease_lapsed().then_some(self.config.broker_id);
        let mut live = live_brokers(&image);
        // A lapsed broker leaves itself out, as the live brokers' answers already do once
        // the controller has fenced it: clients then ask them, not it, where leaders are.
        live.retain(|b| lapsed != Some(b.id.0));
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
        // A dynamic setting (this broker's, else the cluster's) wins over the static one.
        let auto_create = image
            .dynamic_setting(self.config.broker_id, "auto.create.topics.enable")
            .map_or(self.config.auto_create_topics, |v| {
                v.trim().eq_ignore_ascii_case("true")
            });
        let may_create = auto_create && (version < 4 || request.allow_auto_topic_creation);
        let topics = match &request.topics {
            None => image.topics.values().map(|t| topic_entry(t, &image, lapsed)).collect(),
            Some(requested) => {
                let mut entries = Vec::with_capacity(requested.len());
                for wanted in requested {
                    entries.push(match look_up(&image, wanted, version) {
                        Requested::Found(topic) => topic_entry(topic, &image, lapsed),
                        Requested::MissingName(name) if may_create => self.auto_create(name).await,
                        Requested::MissingName(name) => missing_topic(name, ErrorCode::UnknownTopicOrPartition),
                        Requested::MissingId(id) => MetadataResponseTopic::default()
                            .with_error_code(ErrorCode::UnknownTopicId.code())
                            .with_topic_id(id),
                    });
                }
                entries
            }
        };
        MetadataResponse::default()
            .with_brokers(brokers)
            .with_cluster_id(
                image
                    .cluster_id
                    .map(|id| StrBytes::from_string(kafka_uuid::to_kafka_string(&id))),
            )
            // Any broker forwards admin requests to the controller quorum.
            .with_controller_id(controller_id)
            .with_topics(topics)
    }

    async fn auto_create(&self, name: &str) -> MetadataResponseTopic {
        if let Err(reason) = brook_protocol::topic_name::validate_topic_name(name) {
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
            Ok(applied)
                if applied.results.first().is_some_and(|r| {
                    r.error_code == NO_ERROR || r.error_code == ErrorCode::TopicAlreadyExists.code()
                }) =>
            {
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

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use brook_protocol::rpc::metadata::{BrokerRegistration, MetadataImage, PartitionState, TopicState};

    use super::*;

    /// A live (unfenced) broker registration, for the handlers' tests.
    pub(in crate::handlers) fn registered(id: i32) -> BrokerRegistration {
        BrokerRegistration {
            broker_id: id,
            incarnation_id: uuid::Uuid::new_v4(),
            broker_epoch: 1,
            endpoints: Vec::new(),
            rack: None,
            fenced: false,
            log_dirs: Vec::new(),
        }
    }

    #[test]
    fn a_broker_whose_lease_lapsed_does_not_name_itself_leader() {
        let mut image = MetadataImage::default();
        for id in 1..=3 {
            image.brokers.insert(id, registered(id));
        }
        let partition = |index: i32, leader: i32| PartitionState {
            partition: index,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2, 3],
            leader,
            leader_epoch: 4,
            partition_epoch: 4,
        };
        let topic = TopicState {
            topic_id: uuid::Uuid::new_v4(),
            name: "t".into(),
            configs: BTreeMap::new(),
            partitions: vec![partition(0, 1), partition(1, 2)],
        };
        let leaders = |lapsed| {
            topic_entry(&topic, &image, lapsed)
                .partitions
                .iter()
                .map(|p| (p.leader_id.0, p.error_code))
                .collect::<Vec<_>>()
        };
        assert_eq!(leaders(None), vec![(1, 0), (2, 0)]);
        // Broker 1 may have been replaced without hearing so: a client is sent elsewhere
        // to learn the new leader, and broker 2's leadership is untouched.
        let unavailable = ErrorCode::LeaderNotAvailable.code();
        assert_eq!(leaders(Some(1)), vec![(-1, unavailable), (2, 0)]);
    }

    #[test]
    fn a_topic_id_wins_over_the_empty_name_the_java_client_sends_beside_it() {
        let mut image = MetadataImage::default();
        let id = uuid::Uuid::new_v4();
        image.topics.insert(
            id,
            TopicState {
                topic_id: id,
                name: "orders".into(),
                configs: BTreeMap::new(),
                partitions: Vec::new(),
            },
        );
        let wanted = |name: Option<&str>, topic_id| {
            MetadataRequestTopic::default()
                .with_name(name.map(|n| TopicName(StrBytes::from_string(n.to_owned()))))
                .with_topic_id(topic_id)
        };
        let found = |r: Requested| match r {
            Requested::Found(t) => format!("found {}", t.name),
            Requested::MissingName(n) => format!("no name {n}"),
            Requested::MissingId(i) => format!("no id {i}"),
        };
        let by_id = wanted(Some(""), id);
        assert_eq!(found(look_up(&image, &by_id, 12)), "found orders");
        assert_eq!(found(look_up(&image, &wanted(None, id), 12)), "found orders");
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(
            found(look_up(&image, &wanted(Some(""), unknown), 12)),
            format!("no id {unknown}")
        );
        // Before v12 a request cannot name topics by id; the name is what counts.
        assert_eq!(found(look_up(&image, &by_id, 11)), "no name ");
        let by_name = wanted(Some("orders"), uuid::Uuid::nil());
        assert_eq!(found(look_up(&image, &by_name, 12)), "found orders");
    }
}
