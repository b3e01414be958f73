//! A controller node's settings (Kafka's names where Kafka has one).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use brook_protocol::rpc::ControllerAddress;
use brook_protocol::rpc::metadata::NodeId;

use brook_server_kit::properties::{ConfigError, ConfigKey, Properties};
use brook_server_kit::voters::{QUORUM_VOTERS, address_string, parse_voters};

const fn key(name: &'static str, default: Option<&'static str>, help: &'static str) -> ConfigKey {
    ConfigKey { name, default, help }
}

pub const NODE_ID: ConfigKey = key("node.id", None, "This controller's id, one of the voters");
pub const LISTENERS: ConfigKey = key(
    "listeners",
    None,
    "Address to bind (default: this node's address in controller.quorum.voters)",
);
pub const METADATA_LOG_DIR: ConfigKey = key("metadata.log.dir", Some("./brook-controller"), "Raft log and snapshots");
pub const METRICS_ADDR: ConfigKey = key("metrics.addr", None, "Serve Prometheus metrics at http://ADDR/metrics");
pub const SESSION_TIMEOUT: ConfigKey = key(
    "broker.session.timeout.ms",
    Some("6000"),
    "A broker that has not heart-beat for this long is fenced",
);
pub const ELECTION_TIMEOUT: ConfigKey = key(
    "controller.quorum.election.timeout.ms",
    Some("1000"),
    "A follower that hears no leader for this long (randomized up to twice) starts an election",
);
pub const SNAPSHOT_INTERVAL: ConfigKey = key(
    "metadata.snapshot.interval.entries",
    Some("20000"),
    "Write a snapshot and compact the Raft log after this many entries",
);
pub const NUM_PARTITIONS: ConfigKey = key(
    "num.partitions",
    Some("1"),
    "Partitions of a topic created without a count",
);
pub const REPLICATION_FACTOR: ConfigKey = key(
    "default.replication.factor",
    Some("1"),
    "Replicas of a topic created without a replication factor",
);

pub const AUTO_LEADER_REBALANCE: ConfigKey = key(
    "auto.leader.rebalance.enable",
    Some("true"),
    "Move leadership back to each partition's preferred (first) replica when brokers are imbalanced",
);
pub const LEADER_IMBALANCE_CHECK_INTERVAL: ConfigKey = key(
    "leader.imbalance.check.interval.seconds",
    Some("300"),
    "How often the controller checks for leader imbalance",
);
pub const LEADER_IMBALANCE_PER_BROKER: ConfigKey = key(
    "leader.imbalance.per.broker.percentage",
    Some("10"),
    "A broker not leading more than this share of the partitions that prefer it triggers a rebalance",
);

pub const CONTROLLER_KEYS: &[ConfigKey] = &[
    NODE_ID,
    QUORUM_VOTERS,
    LISTENERS,
    METADATA_LOG_DIR,
    METRICS_ADDR,
    SESSION_TIMEOUT,
    ELECTION_TIMEOUT,
    SNAPSHOT_INTERVAL,
    NUM_PARTITIONS,
    REPLICATION_FACTOR,
    AUTO_LEADER_REBALANCE,
    LEADER_IMBALANCE_CHECK_INTERVAL,
    LEADER_IMBALANCE_PER_BROKER,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    pub node_id: NodeId,
    pub voters: Vec<ControllerAddress>,
    pub listen_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub metrics_addr: Option<SocketAddr>,
    pub broker_session_timeout: Duration,
    pub election_timeout: Duration,
    pub snapshot_interval_entries: u64,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    /// `None`: `auto.leader.rebalance.enable=false`; else how often to check.
    pub leader_imbalance_check_interval: Option<Duration>,
    pub leader_imbalance_percentage: u32,
}

impl ControllerConfig {
    pub fn from_properties(props: &Properties) -> Result<Self, ConfigError> {
        props.check_known(CONTROLLER_KEYS)?;
        let node_id: NodeId = props.require(&NODE_ID)?;
        let voters_text: String = props.require(&QUORUM_VOTERS)?;
        let voters = parse_voters(&voters_text)?;
        let own = voters.iter().find(|v| v.node_id == node_id).ok_or_else(|| {
            ConfigError::invalid(&NODE_ID, &node_id.to_string(), "not among controller.quorum.voters")
        })?;
        let listen_addr = match props.get(LISTENERS.name) {
            Some(listener) => {
                // Accept Kafka's `CONTROLLER://host:port` form as well as a bare address.
                let bare = listener.rsplit("://").next().unwrap_or(listener);
                bare.parse()
                    .map_err(|_| ConfigError::invalid(&LISTENERS, listener, "expected host:port"))?
            }
            None => address_string(own).parse().map_err(|_| {
                ConfigError::invalid(&QUORUM_VOTERS, &voters_text, "this node's host must be an IP address")
            })?,
        };
        let millis = |key: &ConfigKey| -> Result<Duration, ConfigError> {
            let ms: u64 = props.require(key)?;
            if ms == 0 {
                return Err(ConfigError::invalid(key, "0", "must be positive"));
            }
            Ok(Duration::from_millis(ms))
        };
        let seconds = |key: &ConfigKey| -> Result<Duration, ConfigError> {
            let s: u64 = props.require(key)?;
            if s == 0 {
                return Err(ConfigError::invalid(key, "0", "must be positive"));
            }
            Ok(Duration::from_secs(s))
        };
        Ok(ControllerConfig {
            node_id,
            listen_addr,
            data_dir: props.require::<String>(&METADATA_LOG_DIR)?.into(),
            metrics_addr: props.parse(&METRICS_ADDR)?,
            broker_session_timeout: millis(&SESSION_TIMEOUT)?,
            election_timeout: millis(&ELECTION_TIMEOUT)?,
            snapshot_interval_entries: props.require::<u64>(&SNAPSHOT_INTERVAL)?.max(1),
            num_partitions: props.require(&NUM_PARTITIONS)?,
            default_replication_factor: props.require(&REPLICATION_FACTOR)?,
            leader_imbalance_check_interval: props
                .require::<bool>(&AUTO_LEADER_REBALANCE)?
                .then(|| seconds(&LEADER_IMBALANCE_CHECK_INTERVAL))
                .transpose()?,
            leader_imbalance_percentage: {
                let percentage: u32 = props.require(&LEADER_IMBALANCE_PER_BROKER)?;
                if percentage > 100 {
                    return Err(ConfigError::invalid(
                        &LEADER_IMBALANCE_PER_BROKER,
                        &percentage.to_string(),
                        "at most 100",
                    ));
                }
                percentage
            },
            voters,
        })
    }

    /// A config for one node of `voters`, listening where the voter list says, with
    /// defaults for the rest.
    pub fn new(node_id: NodeId, voters: Vec<ControllerAddress>, data_dir: PathBuf) -> Result<Self, ConfigError> {
        let mut props = Properties::default();
        props.set(NODE_ID.name, node_id.to_string());
        let text: Vec<String> = voters
            .iter()
            .map(|v| format!("{}@{}", v.node_id, address_string(v)))
            .collect();
        props.set(QUORUM_VOTERS.name, text.join(","));
        props.set(METADATA_LOG_DIR.name, data_dir.display().to_string());
        Self::from_properties(&props)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_three_voter_config_listens_on_its_own_voter_address() {
        let props = Properties::from_toml_str(
            "node.id = 2\ncontroller.quorum.voters = \"1@127.0.0.1:9093, 2@127.0.0.2:9093,3@127.0.0.3:9093\"\n\
             metadata.log.dir = \"/tmp/c2\"\nbroker.session.timeout.ms = 3000\n",
        )
        .unwrap();
        let config = ControllerConfig::from_properties(&props).unwrap();
        assert_eq!(config.listen_addr, "127.0.0.2:9093".parse().unwrap());
        assert_eq!(config.voters.len(), 3);
        assert_eq!(config.broker_session_timeout, Duration::from_secs(3));
        assert_eq!(config.num_partitions, 1);
    }

    #[test]
    fn a_node_outside_the_voters_or_a_malformed_voter_is_refused() {
        let props = Properties::from_toml_str("node.id = 4\ncontroller.quorum.voters = \"1@127.0.0.1:9093\"").unwrap();
        assert!(matches!(
            ControllerConfig::from_properties(&props),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
