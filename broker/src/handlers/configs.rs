//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics, the
//! cluster-wide broker defaults and one broker's own dynamic settings; one broker's
//! settings are described in `broker_configs`. Changes are forwarded to the controller quorum, which
//! validates them; descriptions come from this broker's metadata.

use std::collections::BTreeMap;

use brook_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use brook_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};
use brook_protocol::rpc::metadata::MetadataImage;
use brook_protocol::rpc::{AlterConfigs, ConfigOp, ConfigResource, ResourceResult};
use brook_protocol::topic_config::{self, ConfigKind, TOPIC_CONFIGS, TopicConfig};
use brook_protocol::{ErrorCode, StrBytes};

use super::broker_configs::describe_broker;
use super::{Handlers, unreachable_code};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// DescribeConfigs sources: a topic override, this broker's own dynamic setting, a
/// cluster-wide dynamic default, a static broker setting, Kafka's default.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
pub(super) const DYNAMIC_BROKER_CONFIG: i8 = 2;
pub(super) const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
pub(super) const STATIC_BROKER_CONFIG: i8 = 4;
pub(super) const DEFAULT_CONFIG: i8 = 5;

type Refusal = (ErrorCode, String);

/// A resource as the client named it, with its changes or why they were refused.
struct ResourceChange {
    resource_type: i8,
    name: StrBytes,
    ops: Result<Vec<(String, ConfigOp)>, Refusal>,
}

/// One resource's answer.
struct ResourceAnswer {
    resource_type: i8,
    name: StrBytes,
    error_code: i16,
    message: Option<String>,
}

/// (resource type, name) -> the controller's resource, or the Kafka error for it.
fn resource(resource_type: i8, name: &str) -> Result<ConfigResource, Refusal> {
    match resource_type {
        TOPIC => Ok(ConfigResource::Topic(name.to_owned())),
        BROKER if name.is_empty() => Ok(ConfigResource::Cluster),
        BROKER => name.parse().map(ConfigResource::Broker).map_err(|_| {
            (
                ErrorCode::InvalidRequest,
                format!("broker resource {name:?} is not an id"),
            )
        }),
        other => Err((
            ErrorCode::InvalidRequest,
            format!("resource type {other} is not supported"),
        )),
    }
}

/// A dynamic broker setting's values on `broker`, as DescribeConfigs lists them: its own,
/// then the cluster-wide default, where set.
pub(super) fn dynamic_values<'a>(
    image: &'a MetadataImage,
    broker: i32,
    setting: &str,
) -> impl Iterator<Item = (&'a String, i8)> + use<'a> {
    let own = image.broker_configs.get(&broker).and_then(|c| c.get(setting));
    let cluster = image.cluster_configs.get(setting);
    own.map(|v| (v, DYNAMIC_BROKER_CONFIG))
        .into_iter()
        .chain(cluster.map(|v| (v, DYNAMIC_DEFAULT_BROKER_CONFIG)))
}

fn entry(name: &str, value: &str, source: i8, kind: ConfigKind, version: i16) -> DescribeConfigsResourceResult {
    let result = DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_owned()))
        .with_value(Some(StrBytes::from_string(value.to_owned())))
        .with_config_source(source);
    if version >= 3 {
        result.with_config_type(topic_config::describe_type(kind))
    } else {
        result
    }
}

impl Handlers {
    /// What a topic without an override gets for `config`, and from where: this broker's
    /// dynamic setting, the cluster-wide dynamic default, this broker's static setting, or
    /// Kafka's default (the order `LogConfig::resolve` applies them in).
    fn topic_default(&self, config: &TopicConfig, image: &MetadataImage) -> (String, i8) {
        let dynamic = config
            .broker_setting
            .and_then(|s| dynamic_values(image, self.config.broker_id, s).next());
        if let Some((value, source)) = dynamic {
            return (value.clone(), source);
        }
        match self.config.log_defaults.get(config.name) {
            Some(ours) if ours != config.default => (ours, STATIC_BROKER_CONFIG),
            _ => (config.default.to_owned(), DEFAULT_CONFIG),
        }
    }

    /// A topic config's synonyms in the order they apply, as Kafka lists them: the topic's
    /// override, then its broker synonym's dynamic values (this broker's, the cluster's),
    /// this broker's static setting and Kafka's default.
    fn topic_synonyms(
        &self,
        config: &TopicConfig,
        topic_value: Option<&String>,
        image: &MetadataImage,
    ) -> Vec<DescribeConfigsSynonym> {
        let synonym = |name: &str, value: &str, source: i8| {
            DescribeConfigsSynonym::default()
                .with_name(StrBytes::from_string(name.to_owned()))
                .with_value(Some(StrBytes::from_string(value.to_owned())))
                .with_source(source)
        };
        let mut synonyms: Vec<_> = topic_value
            .map(|v| synonym(config.name, v, DYNAMIC_TOPIC_CONFIG))
            .into_iter()
            .collect();
        if let Some((broker_name, own_default)) = topic_config::kafka_synonym(config.name) {
            // Brook applies broker-level values only for the settings it names.
            if config.broker_setting == Some(broker_name) {
                for (v, source) in dynamic_values(image, self.config.broker_id, broker_name) {
                    synonyms.push(synonym(broker_name, v, source));
                }
                if let Some(v) = self.config.given.get(broker_name) {
                    synonyms.push(synonym(broker_name, v, STATIC_BROKER_CONFIG));
                }
            }
            if own_default {
                synonyms.push(synonym(broker_name, config.default, DEFAULT_CONFIG));
            }
        }
        synonyms
    }

    pub(super) fn describe_configs(&self, request: DescribeConfigsRequest, version: i16) -> DescribeConfigsResponse {
        let image = self.metadata.image();
        let results = request
            .resources
            .iter()
            .map(|r| {
                let name = r.resource_name.as_str();
                let wanted = |key: &str| {
                    r.configuration_keys
                        .as_ref()
                        .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
                };
                let result = DescribeConfigsResult::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone());
                let configs: Result<Vec<_>, Refusal> = match resource(r.resource_type, name) {
                    Ok(ConfigResource::Topic(topic)) => match image.topic_by_name(&topic) {
                        Some(state) => Ok(TOPIC_CONFIGS
                            .iter()
                            .filter(|config| wanted(config.name))
                            .map(|config| {
                                let (value, source) = match state.configs.get(config.name) {
                                    Some(v) => (v.clone(), DYNAMIC_TOPIC_CONFIG),
                                    None => self.topic_default(config, &image),
                                };
                                let entry = entry(config.name, &value, source, config.kind, version);
                                if request.include_synonyms {
                                    entry.with_synonyms(self.topic_synonyms(
                                        config,
                                        state.configs.get(config.name),
                                        &image,
                                    ))
                                } else {
                                    entry
                                }
                            })
                            .collect()),
                        None => Err((
                            ErrorCode::UnknownTopicOrPartition,
                            format!("topic '{topic}' does not exist"),
                        )),
                    },
                    Ok(ConfigResource::Broker(id)) if id == self.config.broker_id => Ok(describe_broker(
                        &self.config,
                        &image,
                        wanted,
                        request.include_synonyms,
                        version,
                    )),
                    Ok(ConfigResource::Broker(id)) => Err((
                        ErrorCode::InvalidRequest,
                        format!(
                            "unexpected broker id {id}: this is broker {}; ask that broker, or use \
                             an empty name for the cluster-wide defaults",
                            self.config.broker_id
                        ),
                    )),
                    Ok(_) => Ok(topic_config::cluster_configs()
                        .filter(|(key, _)| wanted(key))
                        .filter_map(|(key, kind)| {
                            let value = image.cluster_configs.get(key)?;
                            Some(entry(key, value, DYNAMIC_DEFAULT_BROKER_CONFIG, kind, version))
                        })
                        .collect()),
                    Err(refusal) => Err(refusal),
                };
                match configs {
                    Ok(configs) => result.with_configs(configs),
                    Err((code, message)) => result
                        .with_error_code(code.code())
                        .with_error_message(Some(StrBytes::from_string(message))),
                }
            })
            .collect();
        DescribeConfigsResponse::default().with_results(results)
    }

    /// Sends the valid resources to the controller; answers in request order.
    async fn forward_config_changes(
        &self,
        resources: Vec<ResourceChange>,
        replace: bool,
        validate_only: bool,
    ) -> Vec<ResourceAnswer> {
        let mut answers = Vec::with_capacity(resources.len());
        let mut changes = Vec::new();
        let mut slots = Vec::new();
        for change in resources {
            let target = change
                .ops
                .and_then(|ops| Ok((resource(change.resource_type, change.name.as_str())?, ops)));
            let (error_code, message) = match target {
                Ok(target) => {
                    slots.push(answers.len());
                    changes.push(target);
                    (0, None)
                }
                Err((code, message)) => (code.code(), Some(message)),
            };
            answers.push(ResourceAnswer {
                resource_type: change.resource_type,
                name: change.name,
                error_code,
                message,
            });
        }
        if changes.is_empty() {
            return answers;
        }
        let request = AlterConfigs {
            changes,
            replace,
            validate_only,
        };
        let outcomes: Vec<(i16, Option<String>)> = match self.controller.alter_configs(request).await {
            Ok(applied) => {
                // A describe right after the change, here, shows it.
                self.until_metadata_reaches(applied.metadata_version).await;
                applied
                    .results
                    .into_iter()
                    .map(|r: ResourceResult| (r.error_code, r.error_message))
                    .collect()
            }
            Err(error) => {
                let code = unreachable_code(&error);
                slots.iter().map(|_| (code, Some(error.to_string()))).collect()
            }
        };
        for (slot, (error_code, message)) in slots.into_iter().zip(outcomes) {
            answers[slot].error_code = error_code;
            answers[slot].message = message;
        }
        answers
    }

    pub(super) async fn alter_configs(&self, request: AlterConfigsRequest) -> AlterConfigsResponse {
        let resources = request
            .resources
            .into_iter()
            .map(|r| {
                let ops = r
                    .configs
                    .iter()
                    .map(|c| {
                        let op = match &c.value {
                            Some(value) => ConfigOp::Set(value.to_string()),
                            None => ConfigOp::Delete,
                        };
                        (c.name.to_string(), op)
                    })
                    .collect();
                ResourceChange {
                    resource_type: r.resource_type,
                    name: r.resource_name,
                    ops: Ok(ops),
                }
            })
            .collect();
        let answers = self
            .forward_config_changes(resources, true, request.validate_only)
            .await;
        let responses = answers
            .into_iter()
            .map(|a| {
                alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(a.resource_type)
                    .with_resource_name(a.name)
                    .with_error_code(a.error_code)
                    .with_error_message(a.message.map(StrBytes::from_string))
            })
            .collect();
        AlterConfigsResponse::default().with_responses(responses)
    }

    pub(super) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
    ) -> IncrementalAlterConfigsResponse {
        let image = self.metadata.image();
        let resources = request
            .resources
            .into_iter()
            .map(|r| {
                let current: BTreeMap<String, String> = match resource(r.resource_type, r.resource_name.as_str()) {
                    Ok(ConfigResource::Topic(name)) => image
                        .topic_by_name(&name)
                        .map(|t| t.configs.clone())
                        .unwrap_or_default(),
                    Ok(ConfigResource::Broker(id)) => image.broker_configs.get(&id).cloned().unwrap_or_default(),
                    _ => image.cluster_configs.clone(),
                };
                let ops: Result<Vec<_>, _> = r
                    .configs
                    .iter()
                    .map(|c| incremental_op(&current, c.name.as_str(), c.config_operation, c.value.as_deref()))
                    .collect();
                ResourceChange {
                    resource_type: r.resource_type,
                    name: r.resource_name,
                    ops,
                }
            })
            .collect();
        let answers = self
            .forward_config_changes(resources, false, request.validate_only)
            .await;
        let responses = answers
            .into_iter()
            .map(|a| {
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(a.resource_type)
                    .with_resource_name(a.name)
                    .with_error_code(a.error_code)
                    .with_error_message(a.message.map(StrBytes::from_string))
            })
            .collect();
        IncrementalAlterConfigsResponse::default().with_responses(responses)
    }
}

/// SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) on list configs, as the new value.
fn incremental_op(
    current: &BTreeMap<String, String>,
    name: &str,
    operation: i8,
    value: Option<&str>,
) -> Result<(String, ConfigOp), Refusal> {
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let missing = || {
        (
            ErrorCode::InvalidRequest,
            format!("{name}: this operation needs a value"),
        )
    };
    let op = match operation {
        0 => ConfigOp::Set(value.ok_or_else(missing)?.to_owned()),
        1 => ConfigOp::Delete,
        2 | 3 => {
            let mut items = current
                .get(name)
                .map(|v| list(v))
                .or_else(|| topic_config::kafka_default(name).map(list))
                .unwrap_or_default();
            let given = list(value.ok_or_else(missing)?);
            if operation == 2 {
                items.extend(given.into_iter().filter(|g| !items.contains(g)).collect::<Vec<_>>());
            } else {
                items.retain(|i| !given.contains(i));
            }
            ConfigOp::Set(items.join(","))
        }
        other => return Err((ErrorCode::InvalidRequest, format!("unknown config operation {other}"))),
    };
    Ok((name.to_owned(), op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_subtract_work_on_the_current_or_default_list() {
        let current = BTreeMap::new();
        let appended = incremental_op(&current, "cleanup.policy", 2, Some("compact")).unwrap();
        assert_eq!(appended.1, ConfigOp::Set("delete,compact".into()));
        let current: BTreeMap<String, String> = [("cleanup.policy".to_string(), "delete,compact".to_string())].into();
        let subtracted = incremental_op(&current, "cleanup.policy", 3, Some("delete")).unwrap();
        assert_eq!(subtracted.1, ConfigOp::Set("compact".into()));
        assert!(incremental_op(&current, "retention.ms", 0, None).is_err());
        assert!(incremental_op(&current, "retention.ms", 9, Some("1")).is_err());
    }
}
