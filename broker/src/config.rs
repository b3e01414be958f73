//! A broker's settings (Kafka's names where Kafka has one).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use brook_protocol::rpc::ControllerAddress;
use brook_server_kit::properties::{ConfigError, ConfigKey, Properties};
use brook_server_kit::voters::{QUORUM_VOTERS, parse_voters};

use crate::log::LogConfig;

const fn key(name: &'static str, default: Option<&'static str>, help: &'static str) -> ConfigKey {
    ConfigKey { name, default, help }
}

pub const NODE_ID: ConfigKey = key("node.id", None, "This broker's id");
pub const LISTENERS: ConfigKey = key(
    "listeners",
    Some("PLAINTEXT://127.0.0.1:9092"),
    "Where the Kafka protocol is served",
);
pub const ADVERTISED_LISTENERS: ConfigKey = key(
    "advertised.listeners",
    None,
    "The address clients are told to use (default: listeners)",
);
pub const LOG_DIRS: ConfigKey = key("log.dirs", Some("./brook-data"), "Data directories, comma-separated");
pub const METRICS_ADDR: ConfigKey = key("metrics.addr", None, "Serve Prometheus metrics at http://ADDR/metrics");
pub const RACK: ConfigKey = key("broker.rack", None, "Rack of this broker, for replica placement");
pub const AUTO_CREATE: ConfigKey = key(
    "auto.create.topics.enable",
    Some("true"),
    "Create a topic on first produce or metadata request for it",
);
pub const HEARTBEAT_INTERVAL: ConfigKey = key(
    "broker.heartbeat.interval.ms",
    Some("2000"),
    "How often the broker heart-beats to the controller",
);
pub const IDLE_TIMEOUT: ConfigKey = key(
    "connections.max.idle.ms",
    Some("600000"),
    "Close a client connection idle for this long",
);
pub const MAX_CONNECTIONS: ConfigKey = key(
    "max.connections",
    Some("2147483647"),
    "Client connections open at once; past it a new one waits until another closes",
);
pub const MAX_REQUEST_BYTES: ConfigKey = key(
    "socket.request.max.bytes",
    Some("104857600"),
    "Largest request accepted",
);
pub const INITIAL_REBALANCE_DELAY: ConfigKey = key(
    "group.initial.rebalance.delay.ms",
    Some("3000"),
    "How long the first rebalance of an empty group waits for more members",
);
pub const RETENTION_CHECK_INTERVAL: ConfigKey = key(
    "log.retention.check.interval.ms",
    Some("300000"),
    "How often the broker deletes segments past their retention",
);
pub const REPLICA_LAG_TIME_MAX: ConfigKey = key(
    "replica.lag.time.max.ms",
    Some("30000"),
    "A follower not caught up with its leader for this long leaves the ISR",
);
pub const MIN_INSYNC_REPLICAS: ConfigKey = key(
    "min.insync.replicas",
    Some("1"),
    "Default min.insync.replicas: in-sync replicas an acks=all write needs",
);
/// Kafka's default is 2. Opening a log after a clean stop is mostly waiting on the disk
/// for its files' inodes, not work for a core, so more threads than cores pay: 10,000
/// partitions with the caches dropped opened in 5.8-9.4 s on 2 threads, 3.2-3.7 s on
/// 16 and 3.4 s on 64 (BENCHMARKS.md).
pub const RECOVERY_THREADS: ConfigKey = key(
    "num.recovery.threads.per.data.dir",
    Some("16"),
    "Threads per data dir that open (and after a crash recover) the logs at startup and close them at shutdown",
);
pub const SEGMENT_BYTES: ConfigKey = key("log.segment.bytes", Some("1073741824"), "Default segment.bytes");
pub const RETENTION_MS: ConfigKey = key("log.retention.ms", Some("604800000"), "Default retention.ms");
pub const RETENTION_BYTES: ConfigKey = key("log.retention.bytes", Some("-1"), "Default retention.bytes");
pub const FLUSH_MESSAGES: ConfigKey = key(
    "log.flush.interval.messages",
    Some("9223372036854775807"),
    "Default flush.messages (1: fsync before every acknowledgement)",
);
pub const FLUSH_MS: ConfigKey = key("log.flush.interval.ms", Some("9223372036854775807"), "Default flush.ms");
pub const MESSAGE_MAX_BYTES: ConfigKey = key("message.max.bytes", Some("1048588"), "Default max.message.bytes");
pub const WARM_AHEAD_BYTES: ConfigKey = key(
    "log.segment.warm.ahead.bytes",
    Some("0"),
    "Bring this many bytes of page cache past an active segment's end into memory ahead of appends, on a thread of its own (0: off)",
);

pub const BROKER_KEYS: &[ConfigKey] = &[
    NODE_ID,
    QUORUM_VOTERS,
    LISTENERS,
    ADVERTISED_LISTENERS,
    LOG_DIRS,
    METRICS_ADDR,
    RACK,
    AUTO_CREATE,
    HEARTBEAT_INTERVAL,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_REQUEST_BYTES,
    INITIAL_REBALANCE_DELAY,
    REPLICA_LAG_TIME_MAX,
    RETENTION_CHECK_INTERVAL,
    RECOVERY_THREADS,
    MIN_INSYNC_REPLICAS,
    SEGMENT_BYTES,
    RETENTION_MS,
    RETENTION_BYTES,
    FLUSH_MESSAGES,
    WARM_AHEAD_BYTES,
    FLUSH_MS,
    MESSAGE_MAX_BYTES,
];

#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    pub broker_id: i32,
    pub controller_voters: Vec<ControllerAddress>,
    pub listen_addr: SocketAddr,
    /// Host and port clients are told to connect to.
    pub advertised: (String, u16),
    pub log_dirs: Vec<PathBuf>,
    pub metrics_addr: Option<SocketAddr>,
    pub rack: Option<String>,
    pub auto_create_topics: bool,
    pub heartbeat_interval: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_request_bytes: usize,
    pub initial_rebalance_delay: Duration,
    pub replica_lag_time_max: Duration,
    pub retention_check_interval: Duration,
    /// `num.recovery.threads.per.data.dir`.
    pub recovery_threads: usize,
    /// Log settings a topic gets unless its configs say otherwise.
    pub log_defaults: LogConfig,
    /// The settings given in the config file, the environment or flags (the rest are
    /// defaults), as DescribeConfigs reports their source.
    pub given: BTreeMap<String, String>,
}

/// `PLAINTEXT://host:port` (or `host:port`) -> (host, port).
fn parse_listener(key: &ConfigKey, text: &str) -> Result<(String, u16), ConfigError> {
    let first = text.split(',').next().unwrap_or(text).trim();
    let address = first.rsplit("://").next().unwrap_or(first);
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| ConfigError::invalid(key, text, "expected PLAINTEXT://host:port"))?;
    let port = port.parse().map_err(|_| ConfigError::invalid(key, text, "bad port"))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

impl BrokerConfig {
    pub fn from_properties(props: &Properties) -> Result<Self, ConfigError> {
        props.check_known(BROKER_KEYS)?;
        let listener_text: String = props.require(&LISTENERS)?;
        let (host, port) = parse_listener(&LISTENERS, &listener_text)?;
        let listen_addr = format!("{host}:{port}")
            .parse()
            .map_err(|_| ConfigError::invalid(&LISTENERS, &listener_text, "the host must be an IP address"))?;
        let advertised = match props.get(ADVERTISED_LISTENERS.name) {
            Some(text) => parse_listener(&ADVERTISED_LISTENERS, text)?,
            None => (host, port),
        };
        let dirs: String = props.require(&LOG_DIRS)?;
        let log_dirs: Vec<PathBuf> = dirs
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        if log_dirs.is_empty() {
            return Err(ConfigError::invalid(&LOG_DIRS, &dirs, "no directory"));
        }
        // The broker's log settings take the values their topic configs take (one table,
        // `topic_config`), so no broker default is one a topic could not be given.
        for def in brook_protocol::topic_config::TOPIC_CONFIGS {
            let Some(setting) = def.broker_setting else { continue };
            let Some(key) = BROKER_KEYS.iter().find(|k| k.name == setting) else {
                continue;
            };
            if let Some(value) = props.get(setting).or(key.default) {
                brook_protocol::topic_config::check(def.kind, setting, value)
                    .map_err(|reason| ConfigError::invalid(key, value, &reason))?;
            }
        }
        let log_defaults = LogConfig {
            segment_bytes: props.require(&SEGMENT_BYTES)?,
            retention_ms: props.require(&RETENTION_MS)?,
            retention_bytes: props.require(&RETENTION_BYTES)?,
            flush_messages: props.require(&FLUSH_MESSAGES)?,
            flush_ms: props.require(&FLUSH_MS)?,
            max_message_bytes: props.require(&MESSAGE_MAX_BYTES)?,
            min_insync_replicas: props.require(&MIN_INSYNC_REPLICAS)?,
            warm_ahead_bytes: props.require(&WARM_AHEAD_BYTES)?,
            ..LogConfig::default()
        };
        Ok(BrokerConfig {
            broker_id: props.require(&NODE_ID)?,
            controller_voters: parse_voters(&props.require::<String>(&QUORUM_VOTERS)?)?,
            listen_addr,
            advertised,
            log_dirs,
            metrics_addr: props.parse(&METRICS_ADDR)?,
            rack: props.parse(&RACK)?,
            auto_create_topics: props.require(&AUTO_CREATE)?,
            heartbeat_interval: Duration::from_millis(props.require(&HEARTBEAT_INTERVAL)?),
            idle_timeout: Duration::from_millis(props.require(&IDLE_TIMEOUT)?),
            max_connections: positive(props, &MAX_CONNECTIONS)?,
            max_request_bytes: props.require(&MAX_REQUEST_BYTES)?,
            initial_rebalance_delay: Duration::from_millis(props.require(&INITIAL_REBALANCE_DELAY)?),
            replica_lag_time_max: Duration::from_millis(props.require(&REPLICA_LAG_TIME_MAX)?),
            retention_check_interval: Duration::from_millis(props.require(&RETENTION_CHECK_INTERVAL)?),
            recovery_threads: positive(props, &RECOVERY_THREADS)?,
            log_defaults,
            given: props.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        })
    }
}

/// A count that must be at least 1.
fn positive(props: &Properties, key: &ConfigKey) -> Result<usize, ConfigError> {
    let value: usize = props.require(key)?;
    if value == 0 {
        return Err(ConfigError::invalid(key, "0", "must be at least 1"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_kafka_on_9092_with_data_in_brook_data() {
        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", "1@127.0.0.1:9093");
        let config = BrokerConfig::from_properties(&props).unwrap();
        assert_eq!(config.listen_addr, "127.0.0.1:9092".parse().unwrap());
        assert_eq!(config.advertised, ("127.0.0.1".to_string(), 9092));
        assert_eq!(config.log_dirs, vec![PathBuf::from("./brook-data")]);
        assert!(config.auto_create_topics);
        assert_eq!(config.log_defaults, LogConfig::default());
    }

    #[test]
    fn advertised_listeners_and_bad_values() {
        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", "1@127.0.0.1:9093");
        props.set("listeners", "PLAINTEXT://0.0.0.0:19092");
        props.set("advertised.listeners", "PLAINTEXT://kafka.example:19092");
        let config = BrokerConfig::from_properties(&props).unwrap();
        assert_eq!(config.advertised, ("kafka.example".to_string(), 19092));
        props.set("log.segment.bytes", "12");
        assert!(BrokerConfig::from_properties(&props).is_err());
    }

    #[test]
    fn max_connections_is_kafkas_unbounded_default_and_zero_is_refused() {
        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", "1@127.0.0.1:9093");
        assert_eq!(
            BrokerConfig::from_properties(&props).unwrap().max_connections,
            i32::MAX as usize
        );
        props.set("max.connections", "100");
        assert_eq!(BrokerConfig::from_properties(&props).unwrap().max_connections, 100);
        props.set("max.connections", "0");
        assert!(matches!(
            BrokerConfig::from_properties(&props),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
