//! Per-partition log settings, named after Kafka's topic configs.

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
}

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
        }
    }
}

impl LogConfig {
    /// These defaults with a topic's overrides (Kafka's topic config names) applied. The
    /// controller validated the values; one that still does not parse keeps the default.
    pub fn with_topic_configs<'a>(&self, configs: impl IntoIterator<Item = (&'a String, &'a String)>) -> LogConfig {
        let mut config = self.clone();
        for (key, value) in configs {
            if !config.set(key, value) {
                tracing::warn!(key, value, "topic config not applied to the log");
            }
        }
        if let Err(reason) = config.validate() {
            tracing::warn!(%reason, "topic configs out of range; using the defaults");
            return self.clone();
        }
        config
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
            _ => true,
        }
    }

    /// Checks the limits Kafka enforces (positions and relative offsets are 32-bit).
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_bytes < 1024 || self.segment_bytes > i32::MAX as u32 {
            return Err(format!(
                "segment.bytes {} must be within 1024..=2147483647",
                self.segment_bytes
            ));
        }
        if self.segment_index_bytes < 4096 || self.segment_index_bytes > i32::MAX as u32 {
            return Err(format!(
                "segment.index.bytes {} must be at least 4096",
                self.segment_index_bytes
            ));
        }
        if self.segment_ms < 1 {
            return Err(format!("segment.ms {} must be positive", self.segment_ms));
        }
        if self.flush_messages < 1 || self.flush_ms < 0 {
            return Err("flush.messages must be at least 1 and flush.ms not negative".to_string());
        }
        if self.min_insync_replicas < 1 {
            return Err(format!(
                "min.insync.replicas {} must be at least 1",
                self.min_insync_replicas
            ));
        }
        if self.max_message_bytes == 0 {
            return Err("max.message.bytes must be positive".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn topic_configs_override_the_defaults_and_bad_ones_are_ignored() {
        let configs: BTreeMap<String, String> = [
            ("retention.ms", "1000"),
            ("segment.bytes", "1048576"),
            ("cleanup.policy", "delete"),
            ("flush.messages", "many"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = LogConfig::default().with_topic_configs(&configs);
        assert_eq!(config.retention_ms, 1000);
        assert_eq!(config.segment_bytes, 1 << 20);
        assert_eq!(config.flush_messages, i64::MAX);
        let too_small: BTreeMap<String, String> = [("segment.bytes".to_string(), "10".to_string())].into();
        assert_eq!(
            LogConfig::default().with_topic_configs(&too_small),
            LogConfig::default()
        );
    }
}
