//! DescribeConfigs for one broker (`kafka-configs --entity-type brokers --entity-name 1
//! --all`): every setting this broker has, its value, where the value comes from, and,
//! when asked, its synonyms in the order they apply. This broker's own dynamic setting
//! (the broker resource named by its id) wins over the cluster-wide dynamic default (an
//! empty name), which wins over the static setting (config file, `BROOK_*` environment,
//! flag), which wins over the default.

use brook_protocol::StrBytes;
use brook_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsSynonym};
use brook_protocol::rpc::metadata::MetadataImage;
use brook_protocol::topic_config::{self, ConfigKind, TOPIC_CONFIGS};

use super::configs::{DEFAULT_CONFIG, STATIC_BROKER_CONFIG, dynamic_values};
use crate::config::{BROKER_KEYS, BrokerConfig};

/// Kafka's DescribeConfigs type of each static setting (BOOLEAN 1, STRING 2, INT 3,
/// LONG 5, LIST 7), as Kafka 4.4 reports it; the dynamic ones take theirs from the
/// dynamic-config table. `metrics.addr` is Brook's own.
const STATIC_TYPES: &[(&str, i8)] = &[
    ("node.id", 3),
    ("controller.quorum.voters", 7),
    ("listeners", 7),
    ("advertised.listeners", 7),
    ("log.dirs", 7),
    ("metrics.addr", 2),
    ("broker.rack", 2),
    ("broker.heartbeat.interval.ms", 3),
    ("connections.max.idle.ms", 5),
    ("max.connections", 3),
    ("socket.request.max.bytes", 3),
    ("group.initial.rebalance.delay.ms", 3),
    ("replica.lag.time.max.ms", 5),
    ("log.retention.check.interval.ms", 5),
    ("num.recovery.threads.per.data.dir", 3),
    ("log.segment.warm.ahead.bytes", 5),
];

/// A setting's Kafka type: from the dynamic-config table, else the static one.
fn config_type(name: &str, dynamic: Option<ConfigKind>) -> Option<i8> {
    dynamic
        .map(topic_config::describe_type)
        .or_else(|| STATIC_TYPES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t))
}

/// One setting with every value it has, highest precedence first.
struct Setting {
    name: &'static str,
    /// (value, source): this broker's dynamic, dynamic default, static, default, as present.
    values: Vec<(Option<String>, i8)>,
    /// Only dynamic settings can change while the broker runs.
    dynamic: Option<ConfigKind>,
}

fn settings(config: &BrokerConfig, image: &MetadataImage) -> Vec<Setting> {
    let dynamic_kind = |name: &str| {
        topic_config::cluster_configs()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k)
    };
    let dynamic_value = |name: &str| {
        dynamic_values(image, config.broker_id, name)
            .map(|(v, source)| (Some(v.clone()), source))
            .collect::<Vec<_>>()
    };
    let mut out: Vec<Setting> = BROKER_KEYS
        .iter()
        .map(|key| {
            let values = dynamic_value(key.name)
                .into_iter()
                .chain(
                    config
                        .given
                        .get(key.name)
                        .map(|v| (Some(v.clone()), STATIC_BROKER_CONFIG)),
                )
                .chain(key.default.map(|d| (Some(d.to_owned()), DEFAULT_CONFIG)))
                .collect();
            Setting {
                name: key.name,
                values,
                dynamic: dynamic_kind(key.name),
            }
        })
        .collect();
    // The cluster-wide dynamic settings this broker has no static key for: a topic
    // default's broker name (Kafka's default applies unless set), or a cluster one.
    for (name, kind) in topic_config::cluster_configs() {
        if BROKER_KEYS.iter().any(|k| k.name == name) {
            continue;
        }
        let default = TOPIC_CONFIGS
            .iter()
            .find(|c| c.broker_setting == Some(name))
            .map(|c| (Some(c.default.to_owned()), DEFAULT_CONFIG));
        let values: Vec<_> = dynamic_value(name).into_iter().chain(default).collect();
        if !values.is_empty() {
            out.push(Setting {
                name,
                values,
                dynamic: Some(kind),
            });
        }
    }
    out.sort_by_key(|s| s.name);
    out
}

/// This broker's configs as DescribeConfigs answers them; `wanted` filters by name.
pub(super) fn describe_broker(
    config: &BrokerConfig,
    image: &MetadataImage,
    wanted: impl Fn(&str) -> bool,
    include_synonyms: bool,
    version: i16,
) -> Vec<DescribeConfigsResourceResult> {
    let text = |v: &Option<String>| v.clone().map(StrBytes::from_string);
    settings(config, image)
        .into_iter()
        .filter(|s| wanted(s.name))
        .map(|s| {
            // A setting with no value at all (no default either) is shown unset.
            let (value, source) = s.values.first().cloned().unwrap_or((None, DEFAULT_CONFIG));
            let mut result = DescribeConfigsResourceResult::default()
                .with_name(StrBytes::from_static_str(s.name))
                .with_value(text(&value))
                .with_config_source(source)
                .with_read_only(s.dynamic.is_none())
                .with_is_sensitive(false);
            if include_synonyms {
                result.synonyms = s
                    .values
                    .iter()
                    .map(|(v, source)| {
                        DescribeConfigsSynonym::default()
                            .with_name(StrBytes::from_static_str(s.name))
                            .with_value(text(v))
                            .with_source(*source)
                    })
                    .collect();
            }
            if version >= 3 {
                // Every setting has one (a test below proves it); STRING otherwise.
                result.config_type = config_type(s.name, s.dynamic).unwrap_or(2);
            }
            result
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::configs::{DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG};
    use brook_server_kit::properties::Properties;

    fn config(given: &[(&str, &str)]) -> BrokerConfig {
        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", "1@127.0.0.1:9093");
        for (k, v) in given {
            props.set(*k, *v);
        }
        BrokerConfig::from_properties(&props).unwrap()
    }

    fn row<'a>(rows: &'a [DescribeConfigsResourceResult], name: &str) -> &'a DescribeConfigsResourceResult {
        rows.iter()
            .find(|r| r.name.as_str() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn every_setting_with_its_source_and_synonyms_in_precedence_order() {
        let config = config(&[("log.retention.ms", "1000")]);
        let mut image = MetadataImage::default();
        image.cluster_configs.insert("log.retention.ms".into(), "2000".into());
        image.cluster_configs.insert("log.segment.bytes".into(), "4096".into());
        // Broker 1's own value wins; broker 2's is not this broker's business.
        image
            .broker_configs
            .insert(1, [("log.retention.ms".into(), "3000".into())].into());
        image
            .broker_configs
            .insert(2, [("log.segment.bytes".into(), "8192".into())].into());
        let rows = describe_broker(&config, &image, |_| true, true, 4);
        assert!(rows.len() >= BROKER_KEYS.len(), "{}", rows.len());

        let segment = row(&rows, "log.segment.bytes");
        assert_eq!(
            (segment.value.as_deref(), segment.config_source),
            (Some("4096"), DYNAMIC_DEFAULT_BROKER_CONFIG)
        );
        let retention = row(&rows, "log.retention.ms");
        assert_eq!(retention.value.as_deref(), Some("3000"));
        assert_eq!(retention.config_source, DYNAMIC_BROKER_CONFIG);
        assert!(!retention.read_only);
        let synonyms: Vec<(Option<&str>, i8)> = retention
            .synonyms
            .iter()
            .map(|s| (s.value.as_deref(), s.source))
            .collect();
        assert_eq!(
            synonyms,
            [
                (Some("3000"), DYNAMIC_BROKER_CONFIG),
                (Some("2000"), DYNAMIC_DEFAULT_BROKER_CONFIG),
                (Some("1000"), STATIC_BROKER_CONFIG),
                (Some("604800000"), DEFAULT_CONFIG)
            ]
        );

        let node = row(&rows, "node.id");
        assert_eq!(
            (node.value.as_deref(), node.config_source),
            (Some("1"), STATIC_BROKER_CONFIG)
        );
        assert!(node.read_only);
        assert_eq!(node.synonyms.len(), 1, "no default to list");
        let rack = row(&rows, "broker.rack");
        assert_eq!((rack.value.as_deref(), rack.config_source), (None, DEFAULT_CONFIG));
        assert!(rack.synonyms.is_empty());
        let dirs = row(&rows, "log.dirs");
        assert_eq!(dirs.config_source, DEFAULT_CONFIG);
        // A topic default's broker name Brook has no static key for, at Kafka's default.
        let roll = row(&rows, "log.roll.ms");
        assert_eq!(
            (roll.value.as_deref(), roll.config_source),
            (Some("604800000"), DEFAULT_CONFIG)
        );

        assert_eq!(node.config_type, 3, "INT");
        assert_eq!(row(&rows, "log.dirs").config_type, 7, "LIST");
        assert_eq!(retention.config_type, 5, "LONG, from the dynamic table");

        let one = describe_broker(&config, &image, |n| n == "node.id", false, 4);
        assert_eq!(one.len(), 1);
        assert!(one[0].synonyms.is_empty());
    }

    #[test]
    fn every_setting_has_a_kafka_type() {
        let rows = describe_broker(&config(&[]), &MetadataImage::default(), |_| true, false, 4);
        for setting in settings(&config(&[]), &MetadataImage::default()) {
            assert!(
                config_type(setting.name, setting.dynamic).is_some(),
                "{} has no type",
                setting.name
            );
        }
        assert!(rows.iter().all(|r| r.config_type > 0));
    }
}
