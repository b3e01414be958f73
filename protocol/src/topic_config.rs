//! The one table of the configs Brook knows: each topic config's name, the kind and
//! bounds of its value, Kafka's default, and the broker setting that is its default
//! (`log.retention.ms` for `retention.ms`). The controller validates `CreateTopics` and
//! `AlterConfigs` with it (a bad value is refused with `INVALID_CONFIG` and changes
//! nothing), the broker's `LogConfig` resolves a partition's settings with it (topic
//! override, then the cluster-wide dynamic default, then the broker's own setting), and
//! DescribeConfigs reports values, sources and types from it.

/// The kind of value a config takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// A 32-bit integer within the bounds (Kafka's INT).
    Int {
        min: i32,
        max: i32,
    },
    /// A 64-bit integer no smaller than the bound (-1 for "unlimited" where allowed).
    Long {
        min: i64,
    },
    Boolean,
    Double,
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// A comma-separated list of the listed words.
    ChoiceList(&'static [&'static str]),
}

const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// One topic config.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfig {
    pub name: &'static str,
    pub kind: ConfigKind,
    /// Kafka's default.
    pub default: &'static str,
    /// The broker setting a topic without an override gets this config from, when Brook
    /// applies it: set in the broker's own settings, or cluster-wide (AlterConfigs on the
    /// broker resource with an empty name), which wins over the broker's own.
    pub broker_setting: Option<&'static str>,
}

const fn config(name: &'static str, kind: ConfigKind, default: &'static str) -> TopicConfig {
    TopicConfig {
        name,
        kind,
        default,
        broker_setting: None,
    }
}

const fn from_broker(
    name: &'static str,
    kind: ConfigKind,
    default: &'static str,
    broker_setting: &'static str,
) -> TopicConfig {
    TopicConfig {
        name,
        kind,
        default,
        broker_setting: Some(broker_setting),
    }
}

const MAX_LONG: &str = "9223372036854775807";

/// Kafka's topic-level configs: names, the values Kafka accepts, Kafka's defaults.
pub const TOPIC_CONFIGS: &[TopicConfig] = &[
    config(
        "cleanup.policy",
        ConfigKind::ChoiceList(&["delete", "compact"]),
        "delete",
    ),
    config("compression.type", ConfigKind::Choice(COMPRESSION_TYPES), "producer"),
    config("delete.retention.ms", ConfigKind::Long { min: 0 }, "86400000"),
    config("file.delete.delay.ms", ConfigKind::Long { min: 0 }, "60000"),
    from_broker(
        "flush.messages",
        ConfigKind::Long { min: 1 },
        MAX_LONG,
        "log.flush.interval.messages",
    ),
    from_broker(
        "flush.ms",
        ConfigKind::Long { min: 0 },
        MAX_LONG,
        "log.flush.interval.ms",
    ),
    from_broker(
        "index.interval.bytes",
        ConfigKind::Int { min: 0, max: i32::MAX },
        "4096",
        "log.index.interval.bytes",
    ),
    config("max.compaction.lag.ms", ConfigKind::Long { min: 1 }, MAX_LONG),
    from_broker(
        "max.message.bytes",
        ConfigKind::Int { min: 0, max: i32::MAX },
        "1048588",
        "message.max.bytes",
    ),
    config("message.timestamp.after.max.ms", ConfigKind::Long { min: 0 }, "3600000"),
    config("message.timestamp.before.max.ms", ConfigKind::Long { min: 0 }, MAX_LONG),
    config(
        "message.timestamp.type",
        ConfigKind::Choice(&["CreateTime", "LogAppendTime"]),
        "CreateTime",
    ),
    config("min.cleanable.dirty.ratio", ConfigKind::Double, "0.5"),
    config("min.compaction.lag.ms", ConfigKind::Long { min: 0 }, "0"),
    from_broker(
        "min.insync.replicas",
        ConfigKind::Int { min: 1, max: i32::MAX },
        "1",
        "min.insync.replicas",
    ),
    config("preallocate", ConfigKind::Boolean, "false"),
    from_broker(
        "retention.bytes",
        ConfigKind::Long { min: -1 },
        "-1",
        "log.retention.bytes",
    ),
    from_broker(
        "retention.ms",
        ConfigKind::Long { min: -1 },
        "604800000",
        "log.retention.ms",
    ),
    from_broker(
        "segment.bytes",
        ConfigKind::Int {
            min: 1024,
            max: i32::MAX,
        },
        "1073741824",
        "log.segment.bytes",
    ),
    from_broker(
        "segment.index.bytes",
        ConfigKind::Int {
            min: 4096,
            max: i32::MAX,
        },
        "10485760",
        "log.index.size.max.bytes",
    ),
    config("segment.jitter.ms", ConfigKind::Long { min: 0 }, "0"),
    from_broker("segment.ms", ConfigKind::Long { min: 1 }, "604800000", "log.roll.ms"),
    from_broker(
        "unclean.leader.election.enable",
        ConfigKind::Boolean,
        "false",
        "unclean.leader.election.enable",
    ),
];

/// Cluster-wide dynamic settings that are not a topic config's default.
const CLUSTER_ONLY: &[(&str, ConfigKind)] = &[
    ("auto.create.topics.enable", ConfigKind::Boolean),
    ("num.partitions", ConfigKind::Int { min: 1, max: i32::MAX }),
    (
        "default.replication.factor",
        ConfigKind::Int {
            min: 1,
            max: i16::MAX as i32,
        },
    ),
];

/// Each topic config's broker-level synonym in Kafka, and whether Kafka gives that
/// broker setting a default of its own (`log.retention.ms` has none: Kafka derives it
/// from `log.retention.hours`). DescribeConfigs lists the synonyms; Brook applies a
/// broker-level value only where the table above names a `broker_setting`.
const KAFKA_SYNONYMS: &[(&str, &str, bool)] = &[
    ("cleanup.policy", "log.cleanup.policy", true),
    ("compression.type", "compression.type", true),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms", true),
    ("file.delete.delay.ms", "log.segment.delete.delay.ms", true),
    ("flush.messages", "log.flush.interval.messages", true),
    ("flush.ms", "log.flush.interval.ms", false),
    ("index.interval.bytes", "log.index.interval.bytes", true),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", true),
    ("max.message.bytes", "message.max.bytes", true),
    (
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        true,
    ),
    (
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        true,
    ),
    ("message.timestamp.type", "log.message.timestamp.type", true),
    ("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio", true),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", true),
    ("min.insync.replicas", "min.insync.replicas", true),
    ("preallocate", "log.preallocate", true),
    ("retention.bytes", "log.retention.bytes", true),
    ("retention.ms", "log.retention.ms", false),
    ("segment.bytes", "log.segment.bytes", true),
    ("segment.index.bytes", "log.index.size.max.bytes", true),
    ("segment.jitter.ms", "log.roll.jitter.ms", false),
    ("segment.ms", "log.roll.ms", false),
    ("unclean.leader.election.enable", "unclean.leader.election.enable", true),
];

/// A topic config's broker synonym in Kafka and whether that has a default of its own.
pub fn kafka_synonym(topic_config: &str) -> Option<(&'static str, bool)> {
    KAFKA_SYNONYMS
        .iter()
        .find(|(name, _, _)| *name == topic_config)
        .map(|(_, broker, own_default)| (*broker, *own_default))
}

pub fn topic_config(name: &str) -> Option<&'static TopicConfig> {
    TOPIC_CONFIGS.iter().find(|c| c.name == name)
}

/// The cluster-wide dynamic settings (AlterConfigs on the broker resource with an empty
/// name): every topic config's broker setting, and a few of the cluster's own.
pub fn cluster_configs() -> impl Iterator<Item = (&'static str, ConfigKind)> {
    let defaults = TOPIC_CONFIGS.iter().filter_map(|c| Some((c.broker_setting?, c.kind)));
    CLUSTER_ONLY.iter().copied().chain(defaults)
}

/// Kafka's default for a topic config: what a topic without an override gets where no
/// broker setting says otherwise.
pub fn kafka_default(name: &str) -> Option<&'static str> {
    topic_config(name).map(|c| c.default)
}

/// The type Kafka's DescribeConfigs reports for a kind (BOOLEAN 1, STRING 2, INT 3,
/// LONG 5, DOUBLE 6, LIST 7).
pub fn describe_type(kind: ConfigKind) -> i8 {
    match kind {
        ConfigKind::Boolean => 1,
        ConfigKind::Choice(_) => 2,
        ConfigKind::Int { .. } => 3,
        ConfigKind::Long { .. } => 5,
        ConfigKind::Double => 6,
        ConfigKind::ChoiceList(_) => 7,
    }
}

/// Checks a topic config's `key = value`; the error says what is wrong.
pub fn validate_topic(key: &str, value: &str) -> Result<(), String> {
    let config = topic_config(key).ok_or_else(|| format!("unknown config {key:?}"))?;
    check(config.kind, key, value)
}

/// Checks a cluster-wide setting's `key = value`.
pub fn validate_cluster(key: &str, value: &str) -> Result<(), String> {
    let (_, kind) = cluster_configs()
        .find(|(name, _)| *name == key)
        .ok_or_else(|| format!("{key:?} is not a dynamic broker config Brook applies"))?;
    check(kind, key, value)
}

/// Dynamic settings the controller applies for the whole cluster (topic creation's
/// defaults, leader election): a per-broker value would change nothing, so it is refused.
const CONTROLLER_APPLIED: &[&str] = &[
    "num.partitions",
    "default.replication.factor",
    "unclean.leader.election.enable",
];

/// Checks one broker's own dynamic setting (the broker resource named by its id): the
/// cluster-wide settings that each broker applies itself.
pub fn validate_broker(key: &str, value: &str) -> Result<(), String> {
    if CONTROLLER_APPLIED.contains(&key) {
        return Err(format!(
            "{key} is applied by the controller for the whole cluster, so a per-broker value \
             would change nothing; set the cluster-wide default (an empty broker name) instead"
        ));
    }
    validate_cluster(key, value)
}

/// Checks `value` against `kind`; the error says what is wrong.
pub fn check(kind: ConfigKind, key: &str, value: &str) -> Result<(), String> {
    let ok = match kind {
        ConfigKind::Int { min, max } => value.trim().parse::<i32>().is_ok_and(|v| (min..=max).contains(&v)),
        ConfigKind::Long { min } => value.trim().parse::<i64>().is_ok_and(|v| v >= min),
        ConfigKind::Boolean => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        ConfigKind::Double => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
        ConfigKind::Choice(words) => words.contains(&value.trim()),
        ConfigKind::ChoiceList(words) => value.split(',').all(|word| words.contains(&word.trim())),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid value {value:?} for {key}: expected {}",
            describe(&kind)
        ))
    }
}

fn describe(kind: &ConfigKind) -> String {
    match kind {
        ConfigKind::Int { min, max } => format!("an integer within {min}..={max}"),
        ConfigKind::Long { min } => format!("an integer >= {min}"),
        ConfigKind::Boolean => "true or false".to_string(),
        ConfigKind::Double => "a number".to_string(),
        ConfigKind::Choice(words) => format!("one of {}", words.join(", ")),
        ConfigKind::ChoiceList(words) => format!("a comma-separated list of {}", words.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_with_good_values_pass() {
        assert!(validate_topic("retention.ms", "-1").is_ok());
        assert!(validate_topic("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic("compression.type", "zstd").is_ok());
        assert!(validate_topic("preallocate", "TRUE").is_ok());
        // Kafka takes 0 (every batch is then too large); so does Brook's log.
        assert!(validate_topic("max.message.bytes", "0").is_ok());
        assert!(validate_cluster("log.retention.ms", "1000").is_ok());
        assert!(validate_cluster("auto.create.topics.enable", "false").is_ok());
    }

    #[test]
    fn every_default_is_valid_and_every_broker_setting_is_named_once() {
        for config in TOPIC_CONFIGS {
            validate_topic(config.name, config.default).unwrap();
        }
        let mut names: Vec<&str> = cluster_configs().map(|(name, _)| name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a cluster setting appears twice");
    }

    #[test]
    fn every_broker_setting_is_its_configs_kafka_synonym() {
        for config in TOPIC_CONFIGS {
            if let (Some(setting), Some((synonym, _))) = (config.broker_setting, kafka_synonym(config.name)) {
                assert_eq!(setting, synonym, "{}", config.name);
            }
        }
        assert!(KAFKA_SYNONYMS.iter().all(|(name, _, _)| topic_config(name).is_some()));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_a_reason() {
        assert!(validate_topic("retention.mss", "1").unwrap_err().contains("unknown"));
        assert!(validate_topic("segment.bytes", "10").unwrap_err().contains("1024..="));
        // Past a 32-bit int: Kafka refuses it, and so must the controller (the broker's
        // log could not take it).
        assert!(validate_topic("segment.bytes", "3000000000").is_err());
        assert!(validate_topic("min.insync.replicas", "two").is_err());
        assert!(validate_topic("cleanup.policy", "delete,forever").is_err());
        assert!(
            validate_cluster("retention.ms", "1").is_err(),
            "a topic name, not a cluster one"
        );
        assert!(validate_cluster("log.segment.bytes", "3000000000").is_err());
    }
}
