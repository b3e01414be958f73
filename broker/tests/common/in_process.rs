//! A whole cluster in the test's own process: one controller voter and one broker, each
//! on a loopback port of its own, with data in a temporary directory. Kafka-API
//! semantics are tested through it with Brook's client (or raw requests) instead of
//! separate processes and kcat. A test ends with [`InProcess::shutdown`], which stops
//! the broker as `brook dev` does (controlled shutdown, logs closed) and then the
//! controller.

use std::time::{Duration, Instant};

use brook_broker::BrokerNode;
use brook_broker::config::BrokerConfig;
use brook_client::{BrokerConnection, Client, ClientConfig};
use brook_controller::{ControllerConfig, ControllerNode};
use brook_server_kit::properties::Properties;
use brook_server_kit::test_support::free_port;

pub struct InProcess {
    pub bootstrap: String,
    pub client: Client,
    controller: ControllerNode,
    broker: BrokerNode,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts the cluster with the broker `settings` given (Kafka's names) on top of
    /// the test defaults, and waits until the broker serves.
    pub async fn start(settings: &[(&str, &str)]) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let host = "127.0.0.1";
        let voters = format!("1@{host}:{}", free_port(host));

        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", &voters);
        props.set("metadata.log.dir", dir.path().join("controller").to_str().unwrap());
        let controller = ControllerNode::start(ControllerConfig::from_properties(&props).unwrap())
            .await
            .expect("the controller starts");

        let mut props = Properties::default();
        props.set("node.id", "1");
        props.set("controller.quorum.voters", &voters);
        props.set("listeners", format!("PLAINTEXT://{host}:{}", free_port(host)));
        props.set("log.dirs", dir.path().join("broker").to_str().unwrap());
        props.set("broker.heartbeat.interval.ms", "200");
        for (key, value) in settings {
            props.set(*key, *value);
        }
        let broker = BrokerNode::start(BrokerConfig::from_properties(&props).unwrap())
            .await
            .expect("the broker starts");
        let bootstrap = broker.local_addr().to_string();
        let deadline = Instant::now() + Duration::from_secs(20);
        while broker.is_fenced() {
            assert!(Instant::now() < deadline, "the broker was never unfenced");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let client = Client::new(ClientConfig::new(bootstrap.clone()));
        InProcess {
            bootstrap,
            client,
            controller,
            broker,
            _dir: dir,
        }
    }

    /// A connection of its own to the broker, for raw requests.
    pub async fn connection(&self) -> std::sync::Arc<BrokerConnection> {
        self.client
            .connection(&self.bootstrap)
            .await
            .expect("the broker accepts")
    }

    pub async fn shutdown(self) {
        self.broker.shutdown().await;
        self.controller.shutdown().await;
    }
}
