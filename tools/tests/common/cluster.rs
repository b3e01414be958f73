//! A cluster of real processes: `brook controller` voters and `brook broker`s, each on a
//! port of its own on the cluster's loopback address, each with its own data directory
//! and log file under one temporary root. Nodes can be killed (SIGKILL) and restarted on
//! their data; everything still running is killed when the cluster is dropped.
//!
//! A cluster started with [`Cluster::start_proxied`] puts a [`FaultProxy`] in front of
//! every broker (brokers advertise the proxy's address, so clients and other brokers'
//! fetchers all pass through it) and one between each broker and each controller, so a
//! test can cut any broker off from the network, or only one follower's replication.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::proxy::{Direction, Fault, FaultProxy, Rule};
use super::{Process, Start, free_port, loopback_ip, sample, try_scrape, wait_until};

struct Node {
    id: u32,
    /// The Raft address of a controller, the Kafka listener of a broker.
    listen: String,
    /// Where others reach it: `listen`, or its proxy's address.
    address: String,
    metrics: String,
    process: Option<Process>,
}

/// A partition as a client sees it in the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    pub partition: u32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

pub struct Cluster {
    root: tempfile::TempDir,
    voters: String,
    controllers: Vec<Node>,
    brokers: Vec<Node>,
    num_partitions: u32,
    timeouts: Timeouts,
    proxies: Option<Proxies>,
    /// Brokers cut off by `isolate_broker`, left out of `bootstrap()`.
    isolated: Vec<u32>,
}

struct Proxies {
    /// In front of each broker, by broker id - 1.
    brokers: Vec<FaultProxy>,
    /// `[broker id - 1][controller id - 1]`: that broker's path to that controller.
    controllers: Vec<Vec<FaultProxy>>,
}

/// The failure-detection settings of a cluster.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// `broker.session.timeout.ms` (brokers heart-beat every 300 ms).
    pub session_ms: u32,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_ms: u32,
}

impl Default for Timeouts {
    /// A killed broker is fenced within about 2 s; lag alone takes Kafka's 30 s.
    fn default() -> Self {
        Timeouts {
            session_ms: 2000,
            replica_lag_ms: 30_000,
        }
    }
}

impl Cluster {
    /// `controllers` voters and `brokers` brokers, all started; returns once every broker
    /// is in the metadata. Broker sessions time out after 2 s (heartbeats every 300 ms), so
    /// that a killed broker is fenced quickly.
    pub fn start(controllers: u32, brokers: u32, num_partitions: u32) -> Cluster {
        Cluster::start_with(controllers, brokers, num_partitions, Timeouts::default())
    }

    /// As `start`, with these failure-detection settings.
    pub fn start_with(controllers: u32, brokers: u32, num_partitions: u32, timeouts: Timeouts) -> Cluster {
        Cluster::launch(controllers, brokers, num_partitions, timeouts, false)
    }

    /// As `start_with`, every broker behind fault proxies (see the module comment).
    pub fn start_proxied(controllers: u32, brokers: u32, num_partitions: u32, timeouts: Timeouts) -> Cluster {
        Cluster::launch(controllers, brokers, num_partitions, timeouts, true)
    }

    fn launch(controllers: u32, brokers: u32, num_partitions: u32, timeouts: Timeouts, proxied: bool) -> Cluster {
        let ip = loopback_ip();
        // Proxies bind first: a port handed out below cannot be one of theirs.
        let broker_proxies: Vec<FaultProxy> = (0..brokers * u32::from(proxied))
            .map(|_| FaultProxy::listen(&ip))
            .collect();
        let controller_proxies: Vec<Vec<FaultProxy>> = (0..brokers * u32::from(proxied))
            .map(|_| (0..controllers).map(|_| FaultProxy::listen(&ip)).collect())
            .collect();
        let node = |id| {
            let listen = format!("{ip}:{}", free_port(&ip));
            Node {
                id,
                address: listen.clone(),
                listen,
                metrics: format!("{ip}:{}", free_port(&ip)),
                process: None,
            }
        };
        let voters: Vec<Node> = (1..=controllers).map(node).collect();
        let quorum: Vec<String> = voters.iter().map(|c| format!("{}@{}", c.id, c.address)).collect();
        let mut broker_nodes: Vec<Node> = (1..=brokers).map(node).collect();
        let proxies = proxied.then(|| {
            for (broker, proxy) in broker_nodes.iter_mut().zip(&broker_proxies) {
                proxy.forward_to(&broker.listen);
                broker.address = proxy.address.clone();
            }
            for paths in &controller_proxies {
                for (controller, proxy) in voters.iter().zip(paths) {
                    proxy.forward_to(&controller.address);
                }
            }
            Proxies {
                brokers: broker_proxies,
                controllers: controller_proxies,
            }
        });
        let mut cluster = Cluster {
            root: tempfile::tempdir().unwrap(),
            voters: quorum.join(","),
            controllers: voters,
            brokers: broker_nodes,
            num_partitions,
            timeouts,
            proxies,
            isolated: Vec::new(),
        };
        for id in 1..=controllers {
            cluster.start_controller(id);
        }
        for id in 1..=brokers {
            cluster.start_broker(id);
        }
        cluster.wait_for_brokers(brokers as usize);
        cluster
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Every reachable broker's Kafka address, comma-separated.
    pub fn bootstrap(&self) -> String {
        let addresses: Vec<&str> = self
            .brokers
            .iter()
            .filter(|b| !self.isolated.contains(&b.id))
            .map(|b| b.address.as_str())
            .collect();
        addresses.join(",")
    }

    fn proxies(&self) -> &Proxies {
        self.proxies.as_ref().expect("a cluster started with start_proxied")
    }

    /// Cuts broker `id` off from everything (clients, other brokers, controllers): bytes
    /// to and from it are held, as a network partition holds them.
    pub fn isolate_broker(&mut self, id: u32) {
        let hole = Fault::Blackhole(Direction::Both);
        let proxies = self.proxies();
        proxies.brokers[id as usize - 1].set(vec![Rule::all(hole)]);
        for (other, proxy) in proxies.brokers.iter().enumerate() {
            if other + 1 != id as usize {
                proxy.set(vec![Rule::client(&format!("brook-replica-{id}"), hole)]);
            }
        }
        for proxy in &proxies.controllers[id as usize - 1] {
            proxy.set(vec![Rule::all(hole)]);
        }
        self.isolated.push(id);
    }

    /// Applies `fault` to broker `follower`'s replica fetches from every other broker;
    /// everything else flows.
    pub fn disturb_replication(&self, follower: u32, fault: Fault) {
        for (other, proxy) in self.proxies().brokers.iter().enumerate() {
            if other + 1 != follower as usize {
                proxy.set(vec![Rule::client(&format!("brook-replica-{follower}"), fault)]);
            }
        }
    }

    /// Lifts every network fault.
    pub fn heal(&mut self) {
        let proxies = self.proxies();
        for proxy in proxies.brokers.iter().chain(proxies.controllers.iter().flatten()) {
            proxy.heal();
        }
        self.isolated.clear();
    }

    pub fn broker_address(&self, id: u32) -> &str {
        &self.brokers[id as usize - 1].address
    }

    pub fn start_controller(&mut self, id: u32) {
        let node = &self.controllers[id as usize - 1];
        let child = Command::new(env!("CARGO_BIN_EXE_brook"))
            .arg("controller")
            .args(["--node-id", &id.to_string()])
            .args(["--controller-quorum-voters", &self.voters])
            .args([
                "--metadata-log-dir",
                self.root.path().join(format!("controller-{id}")).to_str().unwrap(),
            ])
            .args(["--metrics-addr", &node.metrics])
            .args(["--controller-quorum-election-timeout-ms", "300"])
            .args(["--broker-session-timeout-ms", &self.timeouts.session_ms.to_string()])
            .args(["--num-partitions", &self.num_partitions.to_string()])
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(self.log_file(&format!("controller-{id}.log")))
            .start();
        self.controllers[id as usize - 1].process = Some(child);
    }

    pub fn start_broker(&mut self, id: u32) {
        let node = &self.brokers[id as usize - 1];
        let voters = match &self.proxies {
            // This broker's own path to each controller.
            Some(proxies) => {
                let paths = proxies.controllers[id as usize - 1].iter().enumerate();
                let voters: Vec<String> = paths.map(|(c, p)| format!("{}@{}", c + 1, p.address)).collect();
                voters.join(",")
            }
            None => self.voters.clone(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_brook"))
            .arg("broker")
            .args(["--node-id", &id.to_string()])
            .args(["--controller-quorum-voters", &voters])
            .args(["--listeners", &format!("PLAINTEXT://{}", node.listen)])
            .args(["--advertised-listeners", &format!("PLAINTEXT://{}", node.address)])
            .args([
                "--log-dirs",
                self.root.path().join(format!("broker-{id}")).to_str().unwrap(),
            ])
            .args(["--metrics-addr", &node.metrics])
            .args(["--broker-heartbeat-interval-ms", "300"])
            .args(["--group-initial-rebalance-delay-ms", "0"])
            .args(["--replica-lag-time-max-ms", &self.timeouts.replica_lag_ms.to_string()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(self.log_file(&format!("broker-{id}.log")))
            .start();
        self.brokers[id as usize - 1].process = Some(child);
    }

    /// SIGKILL: no flush, no clean-shutdown marker, no goodbye to the quorum.
    pub fn kill_controller(&mut self, id: u32) {
        self.controllers[id as usize - 1].process = None;
    }

    pub fn kill_broker(&mut self, id: u32) {
        self.brokers[id as usize - 1].process = None;
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): the broker freezes, sockets open.
    pub fn pause_broker(&mut self, id: u32, paused: bool) {
        let process = self.brokers[id as usize - 1].process.as_ref().expect("running");
        let signal = if paused { "-STOP" } else { "-CONT" };
        Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .unwrap();
    }

    /// SIGTERM (a controlled shutdown); whether the broker exited cleanly.
    pub fn terminate_broker(&mut self, id: u32) -> bool {
        let process = self.brokers[id as usize - 1].process.take().expect("running");
        process.terminate().success()
    }

    /// The controller that reports itself Raft leader in its metrics, if one does.
    pub fn controller_leader(&self) -> Option<u32> {
        self.controllers.iter().filter(|c| c.process.is_some()).find_map(|c| {
            let metrics = try_scrape(&c.metrics)?;
            (sample(&metrics, "brook_controller_raft_is_leader", &[])? == 1.0).then_some(c.id)
        })
    }

    pub fn wait_for_controller_leader(&self) -> u32 {
        let mut leader = None;
        wait_until("a controller leader", Duration::from_secs(30), || {
            leader = self.controller_leader();
            leader.is_some()
        });
        leader.unwrap()
    }

    /// Waits until kcat's metadata listing (asked of any broker) shows `count` brokers.
    pub fn wait_for_brokers(&self, count: usize) {
        let wanted = format!(" {count} brokers:");
        wait_until(
            &format!("{count} brokers in the metadata"),
            Duration::from_secs(30),
            || {
                let out = Command::new("kcat")
                    .args(["-L", "-b", &self.bootstrap(), "-m", "2"])
                    .output()
                    .expect("kcat runs");
                String::from_utf8_lossy(&out.stdout).contains(&wanted)
            },
        );
    }

    /// `partition -> leader` from kcat's metadata listing of `topic`.
    pub fn leaders(&self, topic: &str) -> Vec<(u32, i32)> {
        self.partitions(topic)
            .into_iter()
            .map(|p| (p.partition, p.leader))
            .collect()
    }

    /// Each partition of `topic` as kcat's metadata listing shows it.
    pub fn partitions(&self, topic: &str) -> Vec<PartitionView> {
        let out = Command::new("kcat")
            .args(["-L", "-b", &self.bootstrap(), "-t", topic, "-m", "2"])
            .output()
            .unwrap();
        parse_kcat_partitions(&String::from_utf8_lossy(&out.stdout))
    }

    /// The broker's Prometheus text, if it answers.
    pub fn broker_metrics(&self, id: u32) -> Option<String> {
        try_scrape(&self.brokers[id as usize - 1].metrics)
    }

    /// Every node's log, for the message of a failed test.
    pub fn logs(&self) -> String {
        node_logs(self.root.path())
    }

    /// Appended to across restarts.
    fn log_file(&self, name: &str) -> Stdio {
        append_log(self.root.path(), name)
    }
}

impl Drop for Cluster {
    /// A failed test keeps the cluster's directory (data and logs) and says where.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let root = std::mem::replace(&mut self.root, tempfile::tempdir().unwrap());
            eprintln!("cluster data and logs kept in {}", root.keep().display());
        }
    }
}

/// The partitions in kcat's metadata listing (`kcat -L`).
pub fn parse_kcat_partitions(listing: &str) -> Vec<PartitionView> {
    let ids = |list: &str| -> Vec<i32> { list.split(',').filter_map(|b| b.trim().parse().ok()).collect() };
    listing
        .lines()
        .filter_map(|line| {
            // "partition 0, leader 1, replicas: 1,2,3, isrs: 1,2,3"
            let rest = line.trim().strip_prefix("partition ")?;
            let (partition, rest) = rest.split_once(", leader ")?;
            let (leader, rest) = rest.split_once(", replicas: ")?;
            let (replicas, isr) = rest.split_once(", isrs: ")?;
            Some(PartitionView {
                partition: partition.parse().ok()?,
                leader: leader.parse().ok()?,
                replicas: ids(replicas),
                isr: ids(isr.split_whitespace().next().unwrap_or("")),
            })
        })
        .collect()
}

/// Every `*.log` under `root`, each behind a `==> name <==` line, for the message of a
/// failed test.
pub fn node_logs(root: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap_or_default())
        .filter(|name| name.ends_with(".log"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(name)).unwrap_or_default();
            format!("==> {name} <==\n{text}")
        })
        .collect()
}

/// `root/name`, opened for appending (kept across restarts), as a child's output.
pub fn append_log(root: &Path, name: &str) -> Stdio {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(name))
        .expect("log file");
    Stdio::from(file)
}
