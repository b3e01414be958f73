//! Macro benchmark of the controller quorum: committed metadata writes per second and
//! commit latency on a 3-node quorum in this process (real TCP on loopback, real fsync
//! in redb), for topic creation and for single and batched offset commits.
//!
//! `cargo bench -p brook-benches --bench controller_quorum`

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brook_controller::{ControllerConfig, ControllerNode};
use brook_controller_client::{BrokerSession, BrokerSessionConfig, ClientOptions, ControllerClient};
use brook_protocol::rpc::{CommitOffsets, ControllerAddress, CreatableTopic, CreateTopics, OffsetCommit};
use brook_server_kit::properties::Properties;
use hdrhistogram::Histogram;

const NODES: u64 = 3;

async fn start_quorum(root: &std::path::Path) -> (Vec<ControllerNode>, Vec<ControllerAddress>) {
    let voters: Vec<ControllerAddress> = (1..=NODES)
        .map(|node_id| ControllerAddress {
            node_id,
            host: "127.0.0.1".into(),
            port: TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(),
        })
        .collect();
    let list: Vec<String> = voters
        .iter()
        .map(|v| format!("{}@127.0.0.1:{}", v.node_id, v.port))
        .collect();
    let mut nodes = Vec::new();
    for voter in &voters {
        let mut props = Properties::default();
        props.set("node.id", voter.node_id.to_string());
        props.set("controller.quorum.voters", list.join(","));
        props.set(
            "metadata.log.dir",
            root.join(voter.node_id.to_string()).display().to_string(),
        );
        nodes.push(
            ControllerNode::start(ControllerConfig::from_properties(&props).unwrap())
                .await
                .unwrap(),
        );
    }
    (nodes, voters)
}

struct Report {
    name: &'static str,
    operations: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
    raft_entries: u64,
}

impl Report {
    fn print(&self, items_per_operation: u64) {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1e6;
        let per_second = self.operations as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<44} {:>9.0} ops/s {:>10.0} items/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  {:>5.1} ops/entry",
            self.name,
            per_second,
            per_second * items_per_operation as f64,
            ms(0.5),
            ms(0.99),
            self.latency.max() as f64 / 1e6,
            self.operations as f64 / self.raft_entries.max(1) as f64,
        );
    }
}

/// Runs `clients` concurrent loops of `per_client` calls of `op`, timing each call.
async fn run<F, Fut>(
    name: &'static str,
    leader: &ControllerNode,
    clients: &[Arc<ControllerClient>],
    per_client: u64,
    op: F,
) -> Report
where
    F: Fn(Arc<ControllerClient>, u64, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let entries_before = leader.status().last_log_index;
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(c, client)| {
            let (client, op) = (Arc::clone(client), op.clone());
            tokio::spawn(async move {
                let mut latency = Histogram::<u64>::new(3).unwrap();
                for i in 0..per_client {
                    let t = Instant::now();
                    op(Arc::clone(&client), c as u64, i).await;
                    latency.record(t.elapsed().as_nanos() as u64).unwrap();
                }
                latency
            })
        })
        .collect();
    let mut latency = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        latency.add(task.await.unwrap()).unwrap();
    }
    Report {
        name,
        operations: clients.len() as u64 * per_client,
        elapsed: started.elapsed(),
        latency,
        raft_entries: leader.status().last_log_index - entries_before,
    }
}

fn topic(name: String, partitions: i32) -> CreateTopics {
    CreateTopics {
        topics: vec![CreatableTopic {
            name,
            num_partitions: partitions,
            replication_factor: 1,
            assignments: vec![],
            configs: vec![],
        }],
        validate_only: false,
    }
}

fn commit(group: u64, partitions: u64, offset: u64) -> CommitOffsets {
    CommitOffsets {
        group_id: format!("group-{group}"),
        offsets: (0..partitions)
            .map(|p| OffsetCommit {
                topic: "offsets".into(),
                partition: p as i32,
                offset: offset as i64,
                leader_epoch: 0,
                metadata: None,
                commit_timestamp_ms: 0,
            })
            .collect(),
    }
}

async fn bench() {
    let root = tempfile::tempdir().unwrap();
    let (nodes, voters) = start_quorum(root.path()).await;
    let client = || Arc::new(ControllerClient::new(voters.clone(), ClientOptions::default()));
    let session = BrokerSession::start(
        client(),
        BrokerSessionConfig {
            heartbeat_interval: Duration::from_millis(500),
            ..BrokerSessionConfig::new(1, "127.0.0.1", 9092)
        },
    )
    .await
    .unwrap();
    while session.is_fenced() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup = client();
    setup.create_topics(topic("offsets".into(), 100)).await.unwrap();
    let leader_id = setup.describe_quorum().await.unwrap().leader.unwrap();
    let leader = nodes.iter().find(|n| n.node_id() == leader_id).unwrap();
    println!("3-node quorum in one process, data in {}", root.path().display());

    let one = vec![client()];
    let many: Vec<_> = (0..64).map(|_| client()).collect();

    static TOPICS: AtomicU64 = AtomicU64::new(0);
    let create = |client: Arc<ControllerClient>, _: u64, _: u64| async move {
        let name = format!("t-{}", TOPICS.fetch_add(1, Ordering::Relaxed));
        let result = client.create_topics(topic(name, 1)).await.unwrap().results;
        assert_eq!(result[0].error_code, 0);
    };
    run("CreateTopics, 1 client", leader, &one, 300, create).await.print(1);
    run("CreateTopics, 64 clients", leader, &many, 20, create)
        .await
        .print(1);

    let commit_one = |client: Arc<ControllerClient>, c: u64, i: u64| async move {
        client.commit_offsets(vec![commit(c, 1, i)]).await.unwrap();
    };
    run("CommitOffsets 1 partition, 1 client", leader, &one, 500, commit_one)
        .await
        .print(1);
    run("CommitOffsets 1 partition, 64 clients", leader, &many, 100, commit_one)
        .await
        .print(1);

    let commit_batch = |client: Arc<ControllerClient>, c: u64, i: u64| async move {
        client.commit_offsets(vec![commit(c, 100, i)]).await.unwrap();
    };
    run(
        "CommitOffsets 100 partitions, 1 client",
        leader,
        &one,
        300,
        commit_batch,
    )
    .await
    .print(100);
    run(
        "CommitOffsets 100 partitions, 64 clients",
        leader,
        &many,
        50,
        commit_batch,
    )
    .await
    .print(100);

    drop(session);
    for node in nodes {
        node.shutdown().await;
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}
