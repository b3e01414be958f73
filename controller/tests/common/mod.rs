//! In-process controller quorums on loopback ports, with temp dirs.
#![allow(dead_code)]

pub mod silent_proxy;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_controller::{ControllerConfig, ControllerNode};
use brook_controller_client::{BrokerSession, BrokerSessionConfig, ClientOptions, ControllerClient};
use brook_protocol::rpc::ControllerAddress;
use brook_server_kit::properties::Properties;

pub const SESSION_TIMEOUT_MS: u64 = 1_500;

/// A port nobody listens on right now, and not handed out before by this process.
pub fn free_port() -> u16 {
    brook_server_kit::test_support::free_port("127.0.0.1")
}

pub fn voters(count: u64) -> Vec<ControllerAddress> {
    (1..=count)
        .map(|node_id| ControllerAddress {
            node_id,
            host: "127.0.0.1".into(),
            port: free_port(),
        })
        .collect()
}

/// Fast timeouts so tests fail over quickly; `snapshot_every` entries per snapshot.
pub fn config(node_id: u64, voters: &[ControllerAddress], root: &Path, snapshot_every: u64) -> ControllerConfig {
    let mut props = Properties::default();
    let list: Vec<String> = voters
        .iter()
        .map(|v| format!("{}@{}:{}", v.node_id, v.host, v.port))
        .collect();
    props.set("node.id", node_id.to_string());
    props.set("controller.quorum.voters", list.join(","));
    props.set("metadata.log.dir", data_dir(root, node_id).display().to_string());
    props.set("broker.session.timeout.ms", SESSION_TIMEOUT_MS.to_string());
    props.set("controller.quorum.election.timeout.ms", "300");
    props.set("metadata.snapshot.interval.entries", snapshot_every.to_string());
    props.set("leader.imbalance.check.interval.seconds", "1");
    ControllerConfig::from_properties(&props).unwrap()
}

pub fn data_dir(root: &Path, node_id: u64) -> PathBuf {
    root.join(format!("controller-{node_id}"))
}

pub struct Quorum {
    pub voters: Vec<ControllerAddress>,
    pub nodes: Vec<Option<ControllerNode>>,
    pub root: tempfile::TempDir,
    pub snapshot_every: u64,
}

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .with_test_writer()
        .try_init();
}

impl Quorum {
    pub async fn start(count: u64, snapshot_every: u64) -> Quorum {
        init_logging();
        let root = tempfile::tempdir().unwrap();
        let voters = voters(count);
        let mut nodes = Vec::new();
        for v in &voters {
            let node = ControllerNode::start(config(v.node_id, &voters, root.path(), snapshot_every))
                .await
                .unwrap();
            nodes.push(Some(node));
        }
        let quorum = Quorum {
            voters,
            nodes,
            root,
            snapshot_every,
        };
        quorum.leader().await;
        quorum
    }

    /// The leader's node id, once one is elected and has set the cluster id.
    pub async fn leader(&self) -> u64 {
        eventually(Duration::from_secs(15), || async {
            let leader = self
                .nodes
                .iter()
                .flatten()
                .find(|n| n.status().is_leader && n.metadata().cluster_id.is_some())?;
            Some(leader.node_id())
        })
        .await
    }

    pub fn node(&self, node_id: u64) -> &ControllerNode {
        self.nodes[(node_id - 1) as usize].as_ref().expect("node running")
    }

    pub async fn stop(&mut self, node_id: u64) {
        let node = self.nodes[(node_id - 1) as usize].take().expect("node running");
        node.shutdown().await;
    }

    pub async fn restart(&mut self, node_id: u64) {
        let config = config(node_id, &self.voters, self.root.path(), self.snapshot_every);
        self.nodes[(node_id - 1) as usize] = Some(ControllerNode::start(config).await.unwrap());
    }

    pub fn client(&self) -> Arc<ControllerClient> {
        Arc::new(ControllerClient::new(self.voters.clone(), ClientOptions::default()))
    }

    pub async fn broker(&self, broker_id: i32) -> BrokerSession {
        let config = BrokerSessionConfig {
            heartbeat_interval: Duration::from_millis(200),
            ..BrokerSessionConfig::new(broker_id, "127.0.0.1", 9092)
        };
        let session = BrokerSession::start(self.client(), config).await.unwrap();
        eventually(Duration::from_secs(10), || async {
            (!session.is_fenced()).then_some(())
        })
        .await;
        session
    }

    pub async fn shutdown(mut self) {
        for node in self.nodes.iter_mut().filter_map(Option::take) {
            node.shutdown().await;
        }
    }
}

/// Polls `probe` until it yields a value, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
