//! CreateTopics, DeleteTopics and CreatePartitions from Kafka clients, forwarded to the
//! controller quorum; each answers once this broker's metadata shows the change.

use brook_controller_client::ClientError;
use brook_protocol::StrBytes;
use brook_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use brook_protocol::messages::create_topics_response::CreatableTopicResult;
use brook_protocol::messages::delete_topics_response::DeletableTopicResult;
use brook_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, TopicName,
};
use brook_protocol::rpc::{CreatableTopic, CreatePartitions, CreateTopics, NewPartitions, TopicResult};

use super::{Handlers, unreachable, unreachable_code};

impl Handlers {
    pub(super) async fn create_topics(&self, request: CreateTopicsRequest) -> CreateTopicsResponse {
        let forwarded = CreateTopics {
            topics: request
                .topics
                .iter()
                .map(|t| CreatableTopic {
                    name: t.name.0.to_string(),
                    num_partitions: t.num_partitions,
                    replication_factor: t.replication_factor,
                    assignments: t
                        .assignments
                        .iter()
                        .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                        .collect(),
                    configs: t
                        .configs
                        .iter()
                        .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                        .collect(),
                })
                .collect(),
            validate_only: request.validate_only,
        };
        let results = match self.controller.create_topics(forwarded).await {
            Ok(applied) => {
                self.until_metadata_reaches(applied.metadata_version).await;
                applied.results
            }
            Err(error) => failed_all(request.topics.iter().map(|t| t.name.0.to_string()), &error),
        };
        let image = self.metadata.image();
        let topics = results
            .into_iter()
            .map(|r| {
                let (partitions, replication_factor) = request
                    .topics
                    .iter()
                    .find(|t| t.name.0.as_str() == r.name)
                    .map_or((-1, -1), |t| (t.num_partitions, t.replication_factor));
                let defaults = |key: &str, fallback: i32| {
                    image
                        .cluster_configs
                        .get(key)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(fallback)
                };
                CreatableTopicResult::default()
                    .with_name(TopicName(StrBytes::from_string(r.name)))
                    .with_topic_id(r.topic_id.unwrap_or_default())
                    .with_error_code(r.error_code)
                    .with_error_message(r.error_message.map(StrBytes::from_string))
                    .with_num_partitions(if partitions < 0 {
                        defaults("num.partitions", 1)
                    } else {
                        partitions
                    })
                    .with_replication_factor(if replication_factor < 0 {
                        defaults("default.replication.factor", 1) as i16
                    } else {
                        replication_factor
                    })
            })
            .collect();
        CreateTopicsResponse::default().with_topics(topics)
    }

    pub(super) async fn delete_topics(&self, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        let image = self.metadata.image();
        // v6 names topics in `topics` (by name or id), older versions in `topic_names`.
        let mut names: Vec<String> = request.topic_names.iter().map(|n| n.0.to_string()).collect();
        for topic in &request.topics {
            match &topic.name {
                Some(name) => names.push(name.0.to_string()),
                None => names.push(
                    image
                        .topics
                        .get(&topic.topic_id)
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                ),
            }
        }
        let results = match self.controller.delete_topics(names.clone()).await {
            Ok(applied) => {
                self.until_metadata_reaches(applied.metadata_version).await;
                applied.results
            }
            Err(error) => failed_all(names.into_iter(), &error),
        };
        let responses = results
            .into_iter()
            .map(|r| {
                DeletableTopicResult::default()
                    .with_name(Some(TopicName(StrBytes::from_string(r.name))))
                    .with_topic_id(r.topic_id.unwrap_or_default())
                    .with_error_code(r.error_code)
                    .with_error_message(r.error_message.map(StrBytes::from_string))
            })
            .collect();
        DeleteTopicsResponse::default().with_responses(responses)
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
            Ok(applied) => {
                self.until_metadata_reaches(applied.metadata_version).await;
                applied
                    .results
                    .into_iter()
                    .map(|r| (r.name, r.error_code, r.error_message))
                    .collect()
            }
            Err(error) => {
                let code = unreachable_code(&error);
                request
                    .topics
                    .iter()
                    .map(|t| (t.name.0.to_string(), code, Some(error.to_string())))
                    .collect::<Vec<_>>()
            }
        };
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
}

fn failed_all(names: impl Iterator<Item = String>, error: &ClientError) -> Vec<TopicResult> {
    let (error_code, message) = unreachable(error);
    names
        .map(|name| TopicResult {
            name,
            topic_id: None,
            error_code,
            error_message: message.as_ref().map(|m| m.to_string()),
        })
        .collect()
}
