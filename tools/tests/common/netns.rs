//! A cluster whose every node runs in a network namespace of its own (`ip netns`), all
//! joined by veth pairs to one bridge, with addresses in 127.0.0.0/8 only
//! (`route_localnet` lets them cross the veths) and no route anywhere else. Clients run
//! in one more namespace. A network fault is a pair of blackhole routes, one in each
//! namespace, so packets between two nodes vanish both ways, with no reset: connections
//! stay open and silent, as they do when a real network partitions.
//!
//! The same layout runs Apache Kafka 4.4 instead (`Server::Kafka`, from
//! `tests/kafka/kafka.sh`), so that the fault suite's numbers can be set beside Kafka's.
//!
//! Needs root and iproute2 (`.ci/run` installs it; CI runs as root). Everything the test
//! made is removed when the cluster is dropped.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::cluster::{PartitionView, append_log, node_logs, parse_kcat_partitions};
use super::kafka::kafka_sh_path;
use super::{Process, Start, sample, wait_until};

const BROKER_PORT: u16 = 9092;
const CONTROLLER_PORT: u16 = 9093;
const METRICS_PORT: u16 = 9644;
/// Where the test's own clients run.
pub const CLIENT: &str = "cl";

/// Why the suite cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        return Some("network namespaces need root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("iproute2's `ip` is not installed".into());
    }
    None
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces, their veths and the bridge.
pub struct Network {
    prefix: String,
    /// 127.X.Y: the /24 every node's address is in.
    subnet: String,
    nodes: Vec<String>,
    /// Blackholed pairs (a, b), a < b.
    cuts: BTreeSet<(String, String)>,
}

impl Network {
    /// One namespace per name in `nodes`; node `i` (from 0) gets address `.i+10`.
    pub fn create(nodes: &[&str]) -> Network {
        let pid = std::process::id();
        let prefix = format!("bn{}", pid % 100_000);
        let subnet = format!("127.{}.{}", 200 + (pid / 250) % 50, pid % 250);
        let network = Network {
            prefix,
            subnet,
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            cuts: BTreeSet::new(),
        };
        let bridge = network.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["link", "set", &bridge, "up"]);
        for node in nodes {
            let ns = network.namespace(node);
            let outside = format!("{}{node}", network.prefix);
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            ip(&["link", "set", &outside, "master", &bridge, "up"]);
            network.sysctl(node, "net.ipv4.conf.all.route_localnet=1");
            network.sysctl(node, "net.ipv4.conf.eth0.route_localnet=1");
            let address = format!("{}/24", network.address(node));
            ip(&["-n", &ns, "addr", "add", &address, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
        network
    }

    fn sysctl(&self, node: &str, setting: &str) {
        let status = Command::new("ip")
            .args(["netns", "exec", &self.namespace(node), "sysctl", "-qw", setting])
            .status()
            .expect("sysctl runs");
        assert!(status.success(), "sysctl {setting} in {node}");
    }

    fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    fn namespace(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    pub fn address(&self, node: &str) -> String {
        let index = self
            .nodes
            .iter()
            .position(|n| n == node)
            .expect("a node of this network");
        format!("{}.{}", self.subnet, index + 10)
    }

    /// `program` run inside `node`'s namespace.
    pub fn command(&self, node: &str, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespace(node), program]);
        command
    }

    /// Packets between `a` and `b` vanish, both ways.
    pub fn cut(&mut self, a: &str, b: &str) {
        let pair = if a < b { (a, b) } else { (b, a) };
        if !self.cuts.insert((pair.0.to_string(), pair.1.to_string())) {
            return;
        }
        ip(&[
            "-n",
            &self.namespace(a),
            "route",
            "add",
            "blackhole",
            &format!("{}/32", self.address(b)),
        ]);
        ip(&[
            "-n",
            &self.namespace(b),
            "route",
            "add",
            "blackhole",
            &format!("{}/32", self.address(a)),
        ]);
    }

    /// Cuts `node` off from every other node except those in `keep`.
    pub fn isolate(&mut self, node: &str, keep: &[&str]) {
        let others: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.as_str() != node && !keep.contains(&n.as_str()))
            .cloned()
            .collect();
        for other in others {
            self.cut(node, &other);
        }
    }

    /// Every cut healed.
    pub fn heal(&mut self) {
        for (a, b) in std::mem::take(&mut self.cuts) {
            ip(&[
                "-n",
                &self.namespace(&a),
                "route",
                "del",
                "blackhole",
                &format!("{}/32", self.address(&b)),
            ]);
            ip(&[
                "-n",
                &self.namespace(&b),
                "route",
                "del",
                "blackhole",
                &format!("{}/32", self.address(&a)),
            ]);
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for node in &self.nodes {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.namespace(node)])
                .output();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge()]).output();
    }
}

/// What the nodes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Brook,
    /// Kafka 4.4 with the same timeouts, the reference for Brook's numbers. Its node ids
    /// are the brokers' (1..) and, for controllers, 100 more than theirs (one id space).
    Kafka,
}

/// Kafka's node id of controller `id`.
const KAFKA_CONTROLLER_ID_OFFSET: u32 = 100;
/// Any 16 bytes in Kafka's base64 form; every node of one Kafka cluster is formatted with it.
const KAFKA_CLUSTER_ID: &str = "QnJvb2stbmV0bnMtZmF1bA";

impl Server {
    /// `BROOK_NETNS_SERVER`: `brook` (the default) or `kafka`.
    pub fn from_env() -> Server {
        match std::env::var("BROOK_NETNS_SERVER").as_deref() {
            Err(_) | Ok("brook") => Server::Brook,
            Ok("kafka") => Server::Kafka,
            Ok(other) => panic!("BROOK_NETNS_SERVER: {other:?} is neither brook nor kafka"),
        }
    }
}

/// Controllers `c1..`, brokers `b1..` and the client namespace.
pub struct NetnsCluster {
    pub network: Network,
    server: Server,
    root: tempfile::TempDir,
    controllers: Vec<Option<Process>>,
    brokers: Vec<Option<Process>>,
    session_ms: u32,
}

pub fn controller_node(id: u32) -> String {
    format!("c{id}")
}

pub fn broker_node(id: u32) -> String {
    format!("b{id}")
}

impl NetnsCluster {
    pub fn start(server: Server, controllers: u32, brokers: u32, session_ms: u32) -> NetnsCluster {
        let mut names: Vec<String> = (1..=controllers).map(controller_node).collect();
        names.extend((1..=brokers).map(broker_node));
        names.push(CLIENT.into());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut cluster = NetnsCluster {
            network: Network::create(&names),
            server,
            root: tempfile::tempdir().unwrap(),
            controllers: (0..controllers).map(|_| None).collect(),
            brokers: (0..brokers).map(|_| None).collect(),
            session_ms,
        };
        for id in 1..=controllers {
            cluster.start_controller(id);
        }
        for id in 1..=brokers {
            cluster.start_broker(id);
        }
        let wanted = format!(" {brokers} brokers:");
        // Kafka's six JVMs take a while to start on two cores.
        wait_until("every broker in the metadata", Duration::from_secs(120), || {
            cluster.kcat_metadata(None).contains(&wanted)
        });
        cluster
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    fn voters(&self) -> String {
        let offset = match self.server {
            Server::Brook => 0,
            Server::Kafka => KAFKA_CONTROLLER_ID_OFFSET,
        };
        let voters: Vec<String> = (1..=self.controllers.len() as u32)
            .map(|id| {
                let address = self.network.address(&controller_node(id));
                format!("{}@{address}:{CONTROLLER_PORT}", id + offset)
            })
            .collect();
        voters.join(",")
    }

    pub fn bootstrap(&self) -> String {
        let brokers: Vec<String> = (1..=self.brokers.len() as u32)
            .map(|id| format!("{}:{BROKER_PORT}", self.network.address(&broker_node(id))))
            .collect();
        brokers.join(",")
    }

    fn log_file(&self, name: &str) -> Stdio {
        append_log(self.root.path(), name)
    }

    pub fn start_controller(&mut self, id: u32) {
        let node = controller_node(id);
        let address = self.network.address(&node);
        let session = self.session_ms.to_string();
        let command = match self.server {
            Server::Brook => {
                let mut command = self.network.command(&node, env!("CARGO_BIN_EXE_brook"));
                command
                    .arg("controller")
                    .args(["--node-id", &id.to_string()])
                    .args(["--controller-quorum-voters", &self.voters()])
                    .args(["--metadata-log-dir", self.root.path().join(&node).to_str().unwrap()])
                    .args(["--metrics-addr", &format!("{address}:{METRICS_PORT}")])
                    .args(["--controller-quorum-election-timeout-ms", "500"])
                    .args(["--broker-session-timeout-ms", &session])
                    .args(["--leader-imbalance-check-interval-seconds", "5"])
                    .env("RUST_LOG", "info,openraft=warn");
                command
            }
            Server::Kafka => self.kafka_node(
                &node,
                "controller",
                id + KAFKA_CONTROLLER_ID_OFFSET,
                &format!("CONTROLLER://{address}:{CONTROLLER_PORT}"),
                &[
                    "controller.quorum.election.timeout.ms=500".into(),
                    format!("broker.session.timeout.ms={session}"),
                    "leader.imbalance.check.interval.seconds=5".into(),
                ],
            ),
        };
        self.controllers[id as usize - 1] = Some(self.start_logged(&node, command));
    }

    /// Starts `node`'s `command` with its stderr appended to `<node>.log`.
    fn start_logged(&self, node: &str, mut command: Command) -> Process {
        command
            .stdout(Stdio::null())
            .stderr(self.log_file(&format!("{node}.log")))
            .start()
    }

    /// `kafka.sh node` for `node`, in its namespace, with `settings` added to its config.
    fn kafka_node(&self, node: &str, roles: &str, node_id: u32, listener: &str, settings: &[String]) -> Command {
        let mut command = self.network.command(node, "bash");
        command
            .arg(kafka_sh_path())
            .arg("node")
            .arg(self.root.path().join(node))
            .args([roles, &node_id.to_string(), listener, &self.voters(), KAFKA_CLUSTER_ID])
            .args(settings)
            .env("KAFKA_HEAP", "512M");
        command
    }

    pub fn start_broker(&mut self, id: u32) {
        let node = broker_node(id);
        let address = self.network.address(&node);
        let listener = format!("PLAINTEXT://{address}:{BROKER_PORT}");
        let command = match self.server {
            Server::Brook => {
                let mut command = self.network.command(&node, env!("CARGO_BIN_EXE_brook"));
                command
                    .arg("broker")
                    .args(["--node-id", &id.to_string()])
                    .args(["--controller-quorum-voters", &self.voters()])
                    .args(["--listeners", &listener])
                    .args(["--log-dirs", self.root.path().join(&node).to_str().unwrap()])
                    .args(["--metrics-addr", &format!("{address}:{METRICS_PORT}")])
                    .args(["--broker-heartbeat-interval-ms", "300"])
                    .args(["--replica-lag-time-max-ms", "5000"])
                    .env("RUST_LOG", "info");
                command
            }
            Server::Kafka => self.kafka_node(
                &node,
                "broker",
                id,
                &listener,
                &[
                    "broker.heartbeat.interval.ms=300".into(),
                    "replica.lag.time.max.ms=5000".into(),
                ],
            ),
        };
        self.brokers[id as usize - 1] = Some(self.start_logged(&node, command));
    }

    pub fn kill_broker(&mut self, id: u32) {
        self.brokers[id as usize - 1] = None;
    }

    /// SIGTERM; whether the broker shut down cleanly.
    pub fn terminate_broker(&mut self, id: u32) -> bool {
        let process = self.brokers[id as usize - 1].take().expect("running");
        let status = process.terminate();
        // A JVM that ran its shutdown hooks on SIGTERM exits with 128 + 15.
        status.success() || (self.server == Server::Kafka && status.code() == Some(143))
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`).
    pub fn pause_broker(&self, id: u32, paused: bool) {
        let process = self.brokers[id as usize - 1].as_ref().expect("running");
        let signal = if paused { "-STOP" } else { "-CONT" };
        Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .unwrap();
    }

    pub fn is_running(&self, broker: u32) -> bool {
        self.brokers[broker as usize - 1].is_some()
    }

    /// kcat's metadata listing, asked from the client namespace.
    fn kcat_metadata(&self, topic: Option<&str>) -> String {
        let mut command = self.network.command(CLIENT, "kcat");
        command.args(["-L", "-b", &self.bootstrap(), "-m", "3"]);
        if let Some(topic) = topic {
            command.args(["-t", topic]);
        }
        let out = command.output().expect("kcat runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn partitions(&self, topic: &str) -> Vec<PartitionView> {
        parse_kcat_partitions(&self.kcat_metadata(Some(topic)))
    }

    /// A controller's Prometheus text, read from inside its namespace.
    fn controller_metrics(&self, id: u32) -> Option<String> {
        let node = controller_node(id);
        let address = self.network.address(&node);
        let script = format!(
            "exec 3<>/dev/tcp/{address}/{METRICS_PORT} && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 2 cat <&3"
        );
        let out = self
            .network
            .command(&node, "bash")
            .args(["-c", &script])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn controller_leader(&self) -> Option<u32> {
        match self.server {
            Server::Brook => (1..=self.controllers.len() as u32).find(|&id| {
                self.controller_metrics(id)
                    .and_then(|m| sample(&m, "brook_controller_raft_is_leader", &[]))
                    == Some(1.0)
            }),
            // Kafka's controllers have no HTTP metrics; its brokers forward DescribeQuorum.
            Server::Kafka => {
                let out = self
                    .network
                    .command(CLIENT, env!("CARGO_BIN_EXE_brook"))
                    .args([
                        "cluster",
                        "status",
                        "--format",
                        "json",
                        "--bootstrap",
                        &self.bootstrap(),
                    ])
                    .output()
                    .ok()?;
                let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
                let leader = status["quorum"]["leader"].as_i64()?;
                let id = u32::try_from(leader).ok()?.checked_sub(KAFKA_CONTROLLER_ID_OFFSET)?;
                (1..=self.controllers.len() as u32).contains(&id).then_some(id)
            }
        }
    }

    /// `brook` run in the client namespace; panics unless it succeeds.
    pub fn brook(&self, args: &[&str]) -> String {
        let out = self
            .network
            .command(CLIENT, env!("CARGO_BIN_EXE_brook"))
            .args(args)
            .args(["--bootstrap", &self.bootstrap()])
            .output()
            .expect("brook runs");
        assert!(
            out.status.success(),
            "brook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn logs(&self) -> String {
        node_logs(self.root.path())
    }

    /// One broker's log so far (every incarnation's).
    pub fn broker_log(&self, id: u32) -> String {
        let name = format!("{}.log", broker_node(id));
        std::fs::read_to_string(self.root.path().join(name)).unwrap_or_default()
    }
}

impl Drop for NetnsCluster {
    /// Processes first (their namespaces go with the network); a failed test (or any,
    /// with `BROOK_NETNS_KEEP` set) keeps the data and logs and says where.
    fn drop(&mut self) {
        for process in self.brokers.iter_mut().chain(self.controllers.iter_mut()) {
            if let Some(p) = process.take() {
                // A paused process must run again to die cleanly under kill.
                let _ = Command::new("kill").args(["-CONT", &p.id().to_string()]).status();
                drop(p);
            }
        }
        if std::thread::panicking() || std::env::var_os("BROOK_NETNS_KEEP").is_some() {
            let root = std::mem::replace(&mut self.root, tempfile::tempdir().unwrap());
            eprintln!("cluster data and logs kept in {}", root.keep().display());
        }
    }
}
