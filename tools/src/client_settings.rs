//! kcat's `-X key=value` and `-F FILE`: Kafka client settings by their Java and
//! librdkafka names, applied to the client, producer or consumer a command builds. Each
//! key is applied or refused: a command refuses one it does not use (no silent default).

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brook_client::{Acks, ClientConfig, ConsumerConfig, OffsetReset, ProducerConfig};
use brook_protocol::records::Compression;

/// What a command builds, so which settings it can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uses {
    /// Admin commands: a client only.
    Client,
    Producer,
    Consumer,
    /// `brook bench`: producers and consumers.
    Both,
}

const CLIENT_KEYS: &[&str] = &["bootstrap.servers", "client.id", "request.timeout.ms"];
const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "linger.ms",
    "batch.size",
    "compression.type",
    "delivery.timeout.ms",
    "retry.backoff.ms",
    "buffer.memory",
    "max.block.ms",
    "max.in.flight.requests.per.connection",
    "enable.idempotence",
];
const CONSUMER_KEYS: &[&str] = &[
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.wait.ms",
    "max.poll.records",
    "check.crcs",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    values: BTreeMap<String, String>,
}

impl ClientSettings {
    /// The settings of `file` (`key=value` lines, `#` comments, as kcat's -F), then
    /// `given` (-X), later ones winning.
    pub fn load(file: Option<&Path>, given: &[(String, String)]) -> Result<Self> {
        let mut values = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (key, value) = line
                    .split_once('=')
                    .with_context(|| format!("{}:{}: not key=value", path.display(), number + 1))?;
                values.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
        for (key, value) in given {
            values.insert(key.trim().to_owned(), value.clone());
        }
        Ok(ClientSettings { values })
    }

    /// Settings layered under these (a profile's): ours win.
    pub fn over(mut self, base: &BTreeMap<String, String>) -> Self {
        for (key, value) in base {
            self.values.entry(key.clone()).or_insert_with(|| value.clone());
        }
        self
    }

    /// Refuses a key the command would not apply.
    pub fn check(&self, uses: Uses) -> Result<()> {
        let known: Vec<&str> = match uses {
            Uses::Client => CLIENT_KEYS.to_vec(),
            Uses::Producer => [CLIENT_KEYS, PRODUCER_KEYS].concat(),
            Uses::Consumer => [CLIENT_KEYS, CONSUMER_KEYS].concat(),
            Uses::Both => [CLIENT_KEYS, PRODUCER_KEYS, CONSUMER_KEYS].concat(),
        };
        for key in self.values.keys() {
            if !known.contains(&key.as_str()) {
                bail!(
                    "-X {key}: not a setting this command applies (it takes: {})",
                    known.join(", ")
                );
            }
        }
        // Every value parses now, so applying them later cannot fail.
        self.client_config("")?;
        self.producer_config(ProducerConfig::default())?;
        self.consumer_config(ConsumerConfig::default())?;
        Ok(())
    }

    pub fn bootstrap(&self) -> Option<&str> {
        self.values.get("bootstrap.servers").map(String::as_str)
    }

    fn parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        self.values
            .get(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("-X {key}={v}: not a valid value"))
            })
            .transpose()
    }

    fn millis(&self, key: &str) -> Result<Option<Duration>> {
        Ok(self.parse::<u64>(key)?.map(Duration::from_millis))
    }

    pub fn client_config(&self, bootstrap: &str) -> Result<ClientConfig> {
        let mut config = ClientConfig::new(bootstrap);
        if let Some(id) = self.values.get("client.id") {
            config.client_id = id.clone();
        }
        if let Some(timeout) = self.millis("request.timeout.ms")? {
            config.request_timeout = timeout;
        }
        Ok(config)
    }

    pub fn producer_config(&self, mut config: ProducerConfig) -> Result<ProducerConfig> {
        if let Some(acks) = self.values.get("acks") {
            config.acks = match acks.trim() {
                "0" => Acks::None,
                "1" => Acks::Leader,
                "all" | "-1" => Acks::All,
                other => bail!("-X acks={other}: expected 0, 1, all or -1"),
            };
        }
        if let Some(codec) = self.values.get("compression.type") {
            config.compression = match codec.trim() {
                "none" => Compression::None,
                "gzip" => Compression::Gzip,
                "snappy" => Compression::Snappy,
                "lz4" => Compression::Lz4,
                "zstd" => Compression::Zstd,
                other => bail!("-X compression.type={other}: expected none, gzip, snappy, lz4 or zstd"),
            };
        }
        // brook-client's producer has no idempotence yet: asking for it must fail.
        if let Some(idempotence) = self.parse::<bool>("enable.idempotence")?
            && idempotence
        {
            bail!("-X enable.idempotence=true: brook's producer is not idempotent yet");
        }
        config.linger = self.millis("linger.ms")?.unwrap_or(config.linger);
        config.batch_size = self.parse("batch.size")?.unwrap_or(config.batch_size);
        config.delivery_timeout = self.millis("delivery.timeout.ms")?.unwrap_or(config.delivery_timeout);
        config.retry_backoff = self.millis("retry.backoff.ms")?.unwrap_or(config.retry_backoff);
        config.buffer_memory = self.parse("buffer.memory")?.unwrap_or(config.buffer_memory);
        config.max_block = self.millis("max.block.ms")?.unwrap_or(config.max_block);
        let in_flight = self.parse("max.in.flight.requests.per.connection")?;
        config.max_in_flight = in_flight.unwrap_or(config.max_in_flight);
        Ok(config)
    }

    pub fn consumer_config(&self, mut config: ConsumerConfig) -> Result<ConsumerConfig> {
        if let Some(reset) = self.values.get("auto.offset.reset") {
            config.auto_offset_reset = match reset.trim() {
                "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                "latest" | "largest" | "end" => OffsetReset::Latest,
                "none" | "error" => OffsetReset::None,
                other => bail!("-X auto.offset.reset={other}: expected earliest, latest or none"),
            };
        }
        config.enable_auto_commit = self.parse("enable.auto.commit")?.unwrap_or(config.enable_auto_commit);
        let commit_interval = self.millis("auto.commit.interval.ms")?;
        config.auto_commit_interval = commit_interval.unwrap_or(config.auto_commit_interval);
        config.session_timeout = self.millis("session.timeout.ms")?.unwrap_or(config.session_timeout);
        config.heartbeat_interval = self
            .millis("heartbeat.interval.ms")?
            .unwrap_or(config.heartbeat_interval);
        config.max_poll_interval = self.millis("max.poll.interval.ms")?.unwrap_or(config.max_poll_interval);
        config.fetch_min_bytes = self.parse("fetch.min.bytes")?.unwrap_or(config.fetch_min_bytes);
        config.fetch_max_bytes = self.parse("fetch.max.bytes")?.unwrap_or(config.fetch_max_bytes);
        let partition_bytes = self.parse("max.partition.fetch.bytes")?;
        config.max_partition_fetch_bytes = partition_bytes.unwrap_or(config.max_partition_fetch_bytes);
        config.fetch_max_wait = self.millis("fetch.max.wait.ms")?.unwrap_or(config.fetch_max_wait);
        config.max_poll_records = self.parse("max.poll.records")?.unwrap_or(config.max_poll_records);
        config.check_crcs = self.parse("check.crcs")?.unwrap_or(config.check_crcs);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> ClientSettings {
        let given: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ClientSettings::load(None, &given).unwrap()
    }

    #[test]
    fn settings_reach_the_client_producer_and_consumer() {
        let s = settings(&[
            ("client.id", "me"),
            ("request.timeout.ms", "1500"),
            ("acks", "1"),
            ("linger.ms", "20"),
            ("compression.type", "zstd"),
            ("fetch.max.wait.ms", "100"),
            ("auto.offset.reset", "earliest"),
        ]);
        let client = s.client_config("b:9092").unwrap();
        assert_eq!(client.client_id, "me");
        assert_eq!(client.request_timeout, Duration::from_millis(1500));
        let producer = s.producer_config(ProducerConfig::default()).unwrap();
        assert_eq!(producer.acks, Acks::Leader);
        assert_eq!(producer.linger, Duration::from_millis(20));
        assert_eq!(producer.compression, Compression::Zstd);
        let consumer = s.consumer_config(ConsumerConfig::default()).unwrap();
        assert_eq!(consumer.fetch_max_wait, Duration::from_millis(100));
        assert_eq!(consumer.auto_offset_reset, OffsetReset::Earliest);
    }

    #[test]
    fn a_key_the_command_does_not_apply_or_a_bad_value_is_refused() {
        let s = settings(&[("linger.ms", "20")]);
        assert!(s.check(Uses::Producer).is_ok());
        let refused = s.check(Uses::Client).unwrap_err().to_string();
        assert!(refused.contains("linger.ms"), "{refused}");
        assert!(
            settings(&[("linger.ms", "soon")])
                .producer_config(ProducerConfig::default())
                .is_err()
        );
        assert!(
            settings(&[("enable.idempotence", "true")])
                .producer_config(ProducerConfig::default())
                .is_err()
        );
        assert!(settings(&[("sasl.mechanism", "PLAIN")]).check(Uses::Both).is_err());
    }

    #[test]
    fn a_file_is_read_under_the_flags() {
        let dir = std::env::temp_dir().join(format!("brook-settings-{}", std::process::id()));
        std::fs::write(&dir, "# kcat -F\nclient.id = from-file\nlinger.ms=7\n").unwrap();
        let given = vec![("linger.ms".to_string(), "9".to_string())];
        let s = ClientSettings::load(Some(&dir), &given).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(s.client_config("b:1").unwrap().client_id, "from-file");
        let producer = s.producer_config(ProducerConfig::default()).unwrap();
        assert_eq!(producer.linger, Duration::from_millis(9), "-X wins over -F");
    }
}
