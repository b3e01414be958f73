//! The topic configs Brook knows, with the kind of value each takes, so a bad
//! `CreateTopics` or `AlterConfigs` is refused with `INVALID_CONFIG` at the controller
//! instead of being stored and failing later on every broker.

/// The kind of value a config takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// A signed integer no smaller than the bound (-1 for "unlimited" where allowed).
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

/// Kafka's topic-level configs (names, and the smallest value Kafka accepts).
pub const TOPIC_CONFIGS: &[(&str, ConfigKind)] = &[
    ("cleanup.policy", ConfigKind::ChoiceList(&["delete", "compact"])),
    ("compression.type", ConfigKind::Choice(COMPRESSION_TYPES)),
    ("delete.retention.ms", ConfigKind::Long { min: 0 }),
    ("file.delete.delay.ms", ConfigKind::Long { min: 0 }),
    ("flush.messages", ConfigKind::Long { min: 1 }),
    ("flush.ms", ConfigKind::Long { min: 0 }),
    ("index.interval.bytes", ConfigKind::Long { min: 0 }),
    ("max.compaction.lag.ms", ConfigKind::Long { min: 1 }),
    ("max.message.bytes", ConfigKind::Long { min: 0 }),
    ("message.timestamp.after.max.ms", ConfigKind::Long { min: 0 }),
    ("message.timestamp.before.max.ms", ConfigKind::Long { min: 0 }),
    ("message.timestamp.difference.max.ms", ConfigKind::Long { min: 0 }),
    (
        "message.timestamp.type",
        ConfigKind::Choice(&["CreateTime", "LogAppendTime"]),
    ),
    ("min.cleanable.dirty.ratio", ConfigKind::Double),
    ("min.compaction.lag.ms", ConfigKind::Long { min: 0 }),
    ("min.insync.replicas", ConfigKind::Long { min: 1 }),
    ("preallocate", ConfigKind::Boolean),
    ("retention.bytes", ConfigKind::Long { min: -1 }),
    ("retention.ms", ConfigKind::Long { min: -1 }),
    ("segment.bytes", ConfigKind::Long { min: 1024 }),
    ("segment.index.bytes", ConfigKind::Long { min: 4096 }),
    ("segment.jitter.ms", ConfigKind::Long { min: 0 }),
    ("segment.ms", ConfigKind::Long { min: 1 }),
    ("unclean.leader.election.enable", ConfigKind::Boolean),
];

/// Cluster-wide dynamic configs (AlterConfigs on the broker resource with an empty name).
pub const CLUSTER_CONFIGS: &[(&str, ConfigKind)] = &[
    ("auto.create.topics.enable", ConfigKind::Boolean),
    ("num.partitions", ConfigKind::Long { min: 1 }),
    ("default.replication.factor", ConfigKind::Long { min: 1 }),
    ("min.insync.replicas", ConfigKind::Long { min: 1 }),
    ("log.retention.ms", ConfigKind::Long { min: -1 }),
    ("log.retention.bytes", ConfigKind::Long { min: -1 }),
    ("log.segment.bytes", ConfigKind::Long { min: 1024 }),
    ("unclean.leader.election.enable", ConfigKind::Boolean),
];

/// Kafka's default for a topic config: what a topic without an override gets. (A broker
/// answers its own `log.*` defaults for the log settings.)
pub fn kafka_default(name: &str) -> Option<&'static str> {
    Some(match name {
        "cleanup.policy" => "delete",
        "compression.type" => "producer",
        "delete.retention.ms" => "86400000",
        "file.delete.delay.ms" => "60000",
        "flush.messages" | "flush.ms" | "max.compaction.lag.ms" => "9223372036854775807",
        "message.timestamp.difference.max.ms" | "message.timestamp.before.max.ms" => "9223372036854775807",
        "message.timestamp.after.max.ms" => "3600000",
        "index.interval.bytes" => "4096",
        "max.message.bytes" => "1048588",
        "message.timestamp.type" => "CreateTime",
        "min.cleanable.dirty.ratio" => "0.5",
        "min.compaction.lag.ms" => "0",
        "min.insync.replicas" => "1",
        "preallocate" => "false",
        "retention.bytes" => "-1",
        "retention.ms" => "604800000",
        "segment.bytes" => "1073741824",
        "segment.index.bytes" => "10485760",
        "segment.jitter.ms" => "0",
        "segment.ms" => "604800000",
        "unclean.leader.election.enable" => "false",
        _ => return None,
    })
}

/// The type Kafka's DescribeConfigs reports for a kind (BOOLEAN 1, STRING 2, LONG 5,
/// DOUBLE 6, LIST 7).
pub fn describe_type(kind: ConfigKind) -> i8 {
    match kind {
        ConfigKind::Boolean => 1,
        ConfigKind::Choice(_) => 2,
        ConfigKind::Long { .. } => 5,
        ConfigKind::Double => 6,
        ConfigKind::ChoiceList(_) => 7,
    }
}

/// Checks `key = value` against `table`; the error says what is wrong.
pub fn validate(table: &[(&str, ConfigKind)], key: &str, value: &str) -> Result<(), String> {
    let Some((_, kind)) = table.iter().find(|(name, _)| *name == key) else {
        return Err(format!("unknown config {key:?}"));
    };
    let ok = match kind {
        ConfigKind::Long { min } => value.trim().parse::<i64>().is_ok_and(|v| v >= *min),
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
            describe(kind)
        ))
    }
}

fn describe(kind: &ConfigKind) -> String {
    match kind {
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
        assert!(validate(TOPIC_CONFIGS, "retention.ms", "-1").is_ok());
        assert!(validate(TOPIC_CONFIGS, "cleanup.policy", "compact,delete").is_ok());
        assert!(validate(TOPIC_CONFIGS, "compression.type", "zstd").is_ok());
        assert!(validate(TOPIC_CONFIGS, "preallocate", "TRUE").is_ok());
    }

    #[test]
    fn every_topic_config_has_a_valid_default() {
        for (name, _) in TOPIC_CONFIGS {
            let default = kafka_default(name).unwrap_or_else(|| panic!("{name} has no default"));
            validate(TOPIC_CONFIGS, name, default).unwrap();
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_a_reason() {
        assert!(
            validate(TOPIC_CONFIGS, "retention.mss", "1")
                .unwrap_err()
                .contains("unknown")
        );
        assert!(
            validate(TOPIC_CONFIGS, "segment.bytes", "10")
                .unwrap_err()
                .contains(">= 1024")
        );
        assert!(validate(TOPIC_CONFIGS, "min.insync.replicas", "two").is_err());
        assert!(validate(TOPIC_CONFIGS, "cleanup.policy", "delete,forever").is_err());
        assert!(validate(CLUSTER_CONFIGS, "retention.ms", "1").is_err());
    }
}
