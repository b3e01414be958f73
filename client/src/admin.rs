//! Topic and partition administration: create, delete, add partitions, change configs,
//! reassign replicas and elect leaders. Each request goes to the broker Metadata names
//! as controller, as Kafka's admin client does.

use brook_protocol::ApiKey;
use brook_protocol::StrBytes;
use brook_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use brook_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use brook_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use brook_protocol::messages::describe_configs_request::DescribeConfigsResource;
use brook_protocol::messages::elect_leaders_request::TopicPartitions;
use brook_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use brook_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use brook_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, ElectLeadersRequest, IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest,
    RequestKind, ResponseKind, TopicName,
};

use crate::client::Client;
use crate::error::{Error, Result, check};

/// How long the cluster may take to carry out an admin request (`timeout_ms`).
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// Kafka's config resource type for topics.
const TOPIC_RESOURCE: i8 = 2;

/// One config of a topic as DescribeConfigs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for a sensitive value or one with no value.
    pub value: Option<String>,
    /// Where the value comes from, by Kafka's `ConfigSource` names: `DYNAMIC_TOPIC_CONFIG`
    /// (set on the topic), `DEFAULT_CONFIG`, `STATIC_BROKER_CONFIG`, ...
    pub source: &'static str,
    pub read_only: bool,
    pub sensitive: bool,
}

fn config_source(code: i8) -> &'static str {
    match code {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// -1: the cluster's `num.partitions`.
    pub partitions: i32,
    /// -1: the cluster's `default.replication.factor`.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with the cluster's default partition count and replication factor.
    pub fn new(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            partitions: -1,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }
}

/// A change to one topic config key (IncrementalAlterConfigs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    Set(String, String),
    /// Back to the default.
    Delete(String),
}

/// What happened to one partition of a multi-partition request.
#[derive(Debug)]
pub struct PartitionOutcome {
    pub topic: String,
    pub partition: i32,
    pub result: Result<()>,
}

/// A reassignment in progress (ListPartitionReassignments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Give leadership back to each partition's first replica.
    Preferred,
    /// Elect any live replica for partitions without a leader, even one out of sync.
    Unclean,
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// `Ok` for error code 0, else the Kafka error naming `what` and the broker's message.
fn check_with_message(code: i16, message: Option<&StrBytes>, what: &str) -> Result<()> {
    check(code, || match message.filter(|m| !m.is_empty()) {
        Some(message) => format!("{what}: {message}"),
        None => what.to_owned(),
    })
}

/// Partition lists grouped by topic, in order of first appearance.
fn partitions_by_topic(named: &[(String, i32)]) -> Vec<(String, Vec<i32>)> {
    let tagged: Vec<(String, i32, ())> = named.iter().map(|(t, p)| (t.clone(), *p, ())).collect();
    group_by_topic(&tagged)
        .into_iter()
        .map(|(topic, partitions)| (topic, partitions.into_iter().map(|(p, ())| p).collect()))
        .collect()
}

fn outcome(topic: String, partition: i32, code: i16, message: Option<StrBytes>) -> PartitionOutcome {
    let result = check_with_message(code, message.as_ref(), &format!("{topic}-{partition}"));
    PartitionOutcome {
        topic,
        partition,
        result,
    }
}

/// Topic and partition lists grouped by topic, in order of first appearance.
fn group_by_topic<T: Clone>(partitions: &[(String, i32, T)]) -> Vec<(String, Vec<(i32, T)>)> {
    let mut topics: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (topic, partition, value) in partitions {
        match topics.iter_mut().find(|(t, _)| t == topic) {
            Some((_, list)) => list.push((*partition, value.clone())),
            None => topics.push((topic.clone(), vec![(*partition, value.clone())])),
        }
    }
    topics
}

/// Sends `request` of API `$api` (versions `$min..=$max`) to the admin broker and returns
/// its response of the same API.
macro_rules! admin_call {
    ($client:expr, $api:ident, $min:expr, $max:expr, $request:expr) => {
        match $client
            .admin_call(ApiKey::$api, $min, $max, RequestKind::$api($request))
            .await?
        {
            ResponseKind::$api(response) => response,
            _ => return Err(Error::not_a(stringify!($api))),
        }
    };
}

impl Client {
    async fn admin_call(&self, api: ApiKey, min: i16, max: i16, body: RequestKind) -> Result<ResponseKind> {
        let connection = self.admin_connection().await?;
        let version = connection.version(api, min, max)?;
        connection.call(api, version, body).await
    }

    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        let configs = topic
            .configs
            .iter()
            .map(|(k, v)| {
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_value(Some(StrBytes::from_string(v.clone())))
            })
            .collect();
        let request = CreateTopicsRequest::default()
            .with_topics(vec![
                CreatableTopic::default()
                    .with_name(name(&topic.name))
                    .with_num_partitions(topic.partitions)
                    .with_replication_factor(topic.replication_factor)
                    .with_configs(configs),
            ])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let response = admin_call!(self, CreateTopics, 2, 7, request);
        for result in response.topics {
            check_with_message(
                result.error_code,
                result.error_message.as_ref(),
                &format!("topic {}", topic.name),
            )?;
        }
        Ok(())
    }

    pub async fn delete_topic(&self, topic: &str) -> Result<()> {
        let request = DeleteTopicsRequest::default()
            .with_topic_names(vec![name(topic)])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        // v6 names topics in another field; v1 to v5 are enough here.
        let response = admin_call!(self, DeleteTopics, 1, 5, request);
        for result in response.responses {
            check(result.error_code, || format!("topic {topic}"))?;
        }
        Ok(())
    }

    /// Grows `topic` to `total` partitions.
    pub async fn add_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let request = CreatePartitionsRequest::default()
            .with_topics(vec![
                CreatePartitionsTopic::default()
                    .with_name(name(topic))
                    .with_count(total),
            ])
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let response = admin_call!(self, CreatePartitions, 0, 3, request);
        for result in response.results {
            check_with_message(
                result.error_code,
                result.error_message.as_ref(),
                &format!("topic {topic}"),
            )?;
        }
        Ok(())
    }

    /// Every config of a topic with its value and source, sorted by name.
    pub async fn describe_topic_configs(&self, topic: &str) -> Result<Vec<ConfigEntry>> {
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(StrBytes::from_string(topic.to_owned()))
                .with_configuration_keys(None),
        ]);
        let response = admin_call!(self, DescribeConfigs, 1, 4, request);
        let result = response
            .results
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_a("DescribeConfigs"))?;
        check_with_message(
            result.error_code,
            result.error_message.as_ref(),
            &format!("topic {topic}"),
        )?;
        let mut configs: Vec<ConfigEntry> = result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: config_source(c.config_source),
                read_only: c.read_only,
                sensitive: c.is_sensitive,
            })
            .collect();
        configs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(configs)
    }

    /// Sets or deletes topic config keys, leaving the others as they are.
    pub async fn alter_topic_configs(&self, topic: &str, changes: &[ConfigChange]) -> Result<()> {
        let configs = changes
            .iter()
            .map(|change| match change {
                ConfigChange::Set(key, value) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.clone()))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_string(value.clone()))),
                ConfigChange::Delete(key) => AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.clone()))
                    .with_config_operation(1),
            })
            .collect();
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(TOPIC_RESOURCE)
                .with_resource_name(StrBytes::from_string(topic.to_owned()))
                .with_configs(configs),
        ]);
        let response = admin_call!(self, IncrementalAlterConfigs, 0, 1, request);
        for result in response.responses {
            check_with_message(
                result.error_code,
                result.error_message.as_ref(),
                &format!("topic {topic}"),
            )?;
        }
        Ok(())
    }

    /// Moves each `(topic, partition)` to its replica list (the first is the preferred
    /// leader); `None` cancels the partition's reassignment in progress.
    pub async fn reassign_partitions(
        &self,
        moves: &[(String, i32, Option<Vec<i32>>)],
    ) -> Result<Vec<PartitionOutcome>> {
        let topics = group_by_topic(moves)
            .into_iter()
            .map(|(topic, partitions)| {
                ReassignableTopic::default().with_name(name(&topic)).with_partitions(
                    partitions
                        .into_iter()
                        .map(|(partition, replicas)| {
                            ReassignablePartition::default()
                                .with_partition_index(partition)
                                .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))
                        })
                        .collect(),
                )
            })
            .collect();
        let request = AlterPartitionReassignmentsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let response = admin_call!(self, AlterPartitionReassignments, 0, 0, request);
        check_with_message(response.error_code, response.error_message.as_ref(), "reassignments")?;
        Ok(response
            .responses
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.to_string();
                t.partitions
                    .into_iter()
                    .map(move |p| outcome(topic.clone(), p.partition_index, p.error_code, p.error_message))
            })
            .collect())
    }

    /// The reassignments in progress: of the partitions named, or all.
    pub async fn list_reassignments(&self, partitions: Option<&[(String, i32)]>) -> Result<Vec<OngoingReassignment>> {
        let topics = partitions.map(|named| {
            partitions_by_topic(named)
                .into_iter()
                .map(|(topic, partitions)| {
                    ListPartitionReassignmentsTopics::default()
                        .with_name(name(&topic))
                        .with_partition_indexes(partitions)
                })
                .collect()
        });
        let request = ListPartitionReassignmentsRequest::default()
            .with_topics(topics)
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        let response = admin_call!(self, ListPartitionReassignments, 0, 0, request);
        check_with_message(response.error_code, response.error_message.as_ref(), "reassignments")?;
        let ids = |list: Vec<BrokerId>| list.into_iter().map(|b| b.0).collect();
        let mut ongoing: Vec<OngoingReassignment> = response
            .topics
            .into_iter()
            .flat_map(|t| {
                let topic = t.name.0.to_string();
                t.partitions.into_iter().map(move |p| OngoingReassignment {
                    topic: topic.clone(),
                    partition: p.partition_index,
                    replicas: ids(p.replicas),
                    adding: ids(p.adding_replicas),
                    removing: ids(p.removing_replicas),
                })
            })
            .collect();
        ongoing.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(ongoing)
    }

    /// Runs an election for the partitions named, or for every partition (then only
    /// those that needed one are reported).
    pub async fn elect_leaders(
        &self,
        election: Election,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<PartitionOutcome>> {
        let topic_partitions = partitions.map(|named| {
            partitions_by_topic(named)
                .into_iter()
                .map(|(topic, partitions)| {
                    TopicPartitions::default()
                        .with_topic(name(&topic))
                        .with_partitions(partitions)
                })
                .collect()
        });
        let election_type = match election {
            Election::Preferred => 0,
            Election::Unclean => 1,
        };
        let request = ElectLeadersRequest::default()
            .with_election_type(election_type)
            .with_topic_partitions(topic_partitions)
            .with_timeout_ms(ADMIN_TIMEOUT_MS);
        // v0 knows only preferred elections.
        let min = if election == Election::Unclean { 1 } else { 0 };
        let ResponseKind::ElectLeaders(response) = self
            .admin_call(ApiKey::ElectLeaders, min, 2, RequestKind::ElectLeaders(request))
            .await?
        else {
            return Err(Error::not_a("ElectLeaders"));
        };
        check(response.error_code, || "electing leaders".to_owned())?;
        Ok(response
            .replica_election_results
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic.0.to_string();
                t.partition_result
                    .into_iter()
                    .map(move |p| outcome(topic.clone(), p.partition_id, p.error_code, p.error_message))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_group_by_topic_in_order() {
        let grouped = group_by_topic(&[
            ("b".to_string(), 1, 'x'),
            ("a".to_string(), 0, 'y'),
            ("b".to_string(), 2, 'z'),
        ]);
        assert_eq!(
            grouped,
            vec![
                ("b".to_string(), vec![(1, 'x'), (2, 'z')]),
                ("a".to_string(), vec![(0, 'y')])
            ]
        );
    }

    #[test]
    fn a_refused_partition_names_itself_and_the_broker_s_reason() {
        let refused = outcome("t".into(), 3, 85, Some(StrBytes::from_static_str("none running")));
        let message = refused.result.unwrap_err().to_string();
        assert!(message.contains("t-3: none running"), "{message}");
        assert!(message.contains("NO_REASSIGNMENT_IN_PROGRESS"), "{message}");
        assert!(outcome("t".into(), 0, 0, None).result.is_ok());
    }
}
