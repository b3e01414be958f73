//! Per-partition log settings, named after Kafka's topic configs.

use std::collections::BTreeMap;

use brook_protocol::topic_config::{self, TOPIC_CONFIGS};

/// Topic-level log settings (Kafka's names and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll to a new segment when the active one would grow past this.
    pub segment_bytes: u32,
    /// `segment.ms`: roll when the active segment's first batch is older than this.
    pub segment_ms: i64,
    /// `segment.index.bytes`: room for each segment's offset and time index.
    pub segment_index_bytes: u32,
    /// `index.interval.bytes`: log bytes between two index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync once this many records are unflushed (1 = before every ack).
    pub flush_messages: i64,
    /// `flush.ms`: fsync data older than this in the background.
    pub flush_ms: i64,
    /// `retention.ms`: delete segments whose newest record is older (-1: keep forever).
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest segments while the log is bigger (-1: no limit).
    pub retention_bytes: i64,
    /// `max.message.bytes`: largest record set accepted in one append.
    pub max_message_bytes: u32,
    /// `min.insync.replicas`: an `acks=all` write needs this many in-sync replicas.
    pub min_insync_replicas: i32,
    /// `message.timestamp.type=LogAppendTime`: the leader stamps each batch with its
    /// append time (else `CreateTime`, the producer's timestamps).
    pub log_append_time: bool,
    /// `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms`: how far
    /// before or after the append time a record's timestamp may lie (CreateTime only).
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    /// `log.segment.warm.ahead.bytes` (a broker setting, no topic config): how far
    /// ahead of an active segment's end its page-cache pages are brought in by the page
    /// warmer (0: not at all).
    pub warm_ahead_bytes: u64,
}

/// `log.segment.warm.ahead.bytes`'s default: off. The warmer moves the cost of new
/// pages off the append path, not away; on two shared cores that cost then competes
/// with the clients (BENCHMARKS.md, "Warming pages ahead of the appender").
pub const DEFAULT_WARM_AHEAD_BYTES: u64 = 0;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            max_message_bytes: 1024 * 1024 + 12,
            min_insync_replicas: 1,
            log_append_time: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3600 * 1000,
            warm_ahead_bytes: DEFAULT_WARM_AHEAD_BYTES,
        }
    }
}

impl LogConfig {
    /// A partition's settings: these (the broker's static ones) under the dynamic broker
    /// settings (`log.retention.ms`, ...; this broker's own over the cluster-wide ones,
    /// `MetadataImage::dynamic_settings`), under the topic's overrides, key by key as in
    /// Kafka. A value the shared table refuses (the controller validates with the same
    /// table, so only an older controller could have stored one) is skipped, keeping the
    /// layer below for that key alone.
    pub fn resolve(&self, dynamic: &BTreeMap<String, String>, topic: &BTreeMap<String, String>) -> LogConfig {
        let mut config = self.clone();
        for def in TOPIC_CONFIGS {
            let dynamic_value = def.broker_setting.and_then(|setting| dynamic.get(setting));
            for value in [dynamic_value, topic.get(def.name)].into_iter().flatten() {
                match topic_config::check(def.kind, def.name, value) {
                    Ok(()) => {
                        config.set(def.name, value);
                    }
                    Err(reason) => tracing::warn!(%reason, "config not applied to the log"),
                }
            }
        }
        config
    }

    /// A log setting's value by its topic config name, as DescribeConfigs shows it.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "segment.bytes" => self.segment_bytes.to_string(),
            "segment.ms" => self.segment_ms.to_string(),
            "segment.index.bytes" => self.segment_index_bytes.to_string(),
            "index.interval.bytes" => self.index_interval_bytes.to_string(),
            "flush.messages" => self.flush_messages.to_string(),
            "flush.ms" => self.flush_ms.to_string(),
            "retention.ms" => self.retention_ms.to_string(),
            "retention.bytes" => self.retention_bytes.to_string(),
            "max.message.bytes" => self.max_message_bytes.to_string(),
            "min.insync.replicas" => self.min_insync_replicas.to_string(),
            "message.timestamp.type" => if self.log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            }
            .to_string(),
            "message.timestamp.before.max.ms" => self.timestamp_before_max_ms.to_string(),
            "message.timestamp.after.max.ms" => self.timestamp_after_max_ms.to_string(),
            _ => return None,
        })
    }

    /// Sets one setting by its Kafka name; `false` if the name is not a log setting or the
    /// value does not parse. Names of other topic configs (e.g. `cleanup.policy`) are
    /// accepted and ignored here.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        fn parse<T: std::str::FromStr>(value: &str, slot: &mut T) -> bool {
            match value.trim().parse() {
                Ok(v) => {
                    *slot = v;
                    true
                }
                Err(_) => false,
            }
        }
        match key {
            "segment.bytes" => parse(value, &mut self.segment_bytes),
            "segment.ms" => parse(value, &mut self.segment_ms),
            "segment.index.bytes" => parse(value, &mut self.segment_index_bytes),
            "index.interval.bytes" => parse(value, &mut self.index_interval_bytes),
            "flush.messages" => parse(value, &mut self.flush_messages),
            "flush.ms" => parse(value, &mut self.flush_ms),
            "retention.ms" => parse(value, &mut self.retention_ms),
            "retention.bytes" => parse(value, &mut self.retention_bytes),
            "max.message.bytes" => parse(value, &mut self.max_message_bytes),
            "min.insync.replicas" => parse(value, &mut self.min_insync_replicas),
            "message.timestamp.type" => match value.trim() {
                "CreateTime" => {
                    self.log_append_time = false;
                    true
                }
                "LogAppendTime" => {
                    self.log_append_time = true;
                    true
                }
                _ => false,
            },
            "message.timestamp.before.max.ms" => parse(value, &mut self.timestamp_before_max_ms),
            "message.timestamp.after.max.ms" => parse(value, &mut self.timestamp_after_max_ms),
            _ => true,
        }
    }

    /// Checks every setting against the bounds Kafka gives its topic config (the shared
    /// table, so the controller, the broker's own settings and the log agree).
    pub fn validate(&self) -> Result<(), String> {
        for def in TOPIC_CONFIGS {
            if let Some(value) = self.get(def.name) {
                topic_config::check(def.kind, def.name, &value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn topic_overrides_beat_cluster_defaults_which_beat_the_brokers_own() {
        let broker = LogConfig {
            retention_ms: 5000,
            segment_bytes: 1 << 20,
            ..LogConfig::default()
        };
        let cluster = map(&[("log.retention.ms", "1000"), ("min.insync.replicas", "2")]);
        let topic = map(&[("retention.ms", "3000"), ("cleanup.policy", "delete")]);
        let config = broker.resolve(&cluster, &topic);
        assert_eq!(config.retention_ms, 3000, "the topic's override");
        assert_eq!(config.min_insync_replicas, 2, "the cluster-wide default");
        assert_eq!(config.segment_bytes, 1 << 20, "the broker's own");
        assert_eq!(broker.resolve(&cluster, &map(&[])).retention_ms, 1000);
    }

    #[test]
    fn one_bad_value_costs_only_its_own_key() {
        let topic = map(&[
            ("retention.ms", "1000"),
            ("segment.bytes", "3000000000"),
            ("flush.messages", "many"),
        ]);
        let config = LogConfig::default().resolve(&map(&[]), &topic);
        assert_eq!(config.retention_ms, 1000, "the good override still applies");
        assert_eq!(config.segment_bytes, LogConfig::default().segment_bytes);
        assert_eq!(config.flush_messages, i64::MAX);
        assert!(config.validate().is_ok());
        let too_big = LogConfig {
            segment_bytes: u32::MAX,
            ..LogConfig::default()
        };
        assert!(too_big.validate().unwrap_err().contains("segment.bytes"));
    }

    #[test]
    fn every_log_setting_reads_back_by_its_topic_config_name() {
        let config = LogConfig::default();
        for def in TOPIC_CONFIGS {
            if let Some(value) = config.get(def.name) {
                assert_eq!(value, def.default, "{}: Brook's default is Kafka's", def.name);
                let mut copy = config.clone();
                assert!(copy.set(def.name, &value));
                assert_eq!(copy, config);
            }
        }
    }
}
