//! Three `brook controller` processes on their own loopback addresses: SIGKILL the leader, a new one is
//! elected with everything committed before the kill, the killed node restarts on its
//! data and catches up; metrics are served over HTTP.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_controller_client::{BrokerSession, BrokerSessionConfig, ClientOptions, ControllerClient, MetadataCache};
use brook_protocol::rpc::{CommitOffsets, ControllerAddress, CreatableTopic, CreateTopics, FetchOffsets, OffsetCommit};

use crate::common;
use crate::common::Start;

use common::{Process, free_port, loopback_ip, sample, try_scrape as scrape};

fn gauge(text: &str, name: &str) -> Option<i64> {
    sample(text, name, &[]).map(|v| v as i64)
}

struct Node {
    address: ControllerAddress,
    metrics: String,
}

fn start(node: u64, voters: &str, nodes: &[Node], root: &Path) -> Process {
    let n = &nodes[(node - 1) as usize];
    Command::new(env!("CARGO_BIN_EXE_brook"))
        .arg("controller")
        .args(["--node-id", &node.to_string()])
        .args(["--controller-quorum-voters", voters])
        .args(["--metadata-log-dir", root.join(format!("c{node}")).to_str().unwrap()])
        .args(["--metrics-addr", &n.metrics])
        .args(["--controller-quorum-election-timeout-ms", "300"])
        .args(["--broker-session-timeout-ms", "2000"])
        .args(["--metadata-snapshot-interval-entries", "20"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .start()
}

async fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything a fresh watcher sees on the current leader.
async fn leader_metadata(client: &ControllerClient) -> MetadataCache {
    let cache = MetadataCache::default();
    let mut stream = client.watch(99, 0).await.unwrap();
    let update = stream.next().await.unwrap().unwrap();
    cache.apply(update);
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_and_the_restarted_node_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let nodes: Vec<Node> = (1..=3)
        .map(|i| {
            let ip = loopback_ip();
            Node {
                address: ControllerAddress {
                    node_id: i,
                    host: ip.clone(),
                    port: free_port(&ip),
                },
                metrics: format!("{ip}:{}", free_port(&ip)),
            }
        })
        .collect();
    let voters: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}@{}:{}", n.address.node_id, n.address.host, n.address.port))
        .collect();
    let voters = voters.join(",");
    let mut processes: Vec<Option<Process>> = (1..=3).map(|i| Some(start(i, &voters, &nodes, root.path()))).collect();

    let addresses: Vec<ControllerAddress> = nodes.iter().map(|n| n.address.clone()).collect();
    let client = Arc::new(ControllerClient::new(addresses, ClientOptions::default()));
    let broker = BrokerSession::start(
        Arc::clone(&client),
        BrokerSessionConfig {
            heartbeat_interval: Duration::from_millis(300),
            ..BrokerSessionConfig::new(1, "127.0.0.1", 9092)
        },
    )
    .await
    .unwrap();
    eventually("broker unfenced", Duration::from_secs(10), || {
        (!broker.is_fenced()).then_some(())
    })
    .await;

    for i in 0..10 {
        let request = CreateTopics {
            topics: vec![CreatableTopic {
                name: format!("t{i}"),
                num_partitions: 2,
                replication_factor: 1,
                assignments: vec![],
                configs: vec![],
            }],
            validate_only: false,
        };
        assert_eq!(client.create_topics(request).await.unwrap().results[0].error_code, 0);
    }
    let commit = |offset: i64| CommitOffsets {
        group_id: "g".into(),
        offsets: vec![OffsetCommit {
            topic: "t0".into(),
            partition: 0,
            offset,
            leader_epoch: 0,
            metadata: None,
            commit_timestamp_ms: 0,
        }],
    };
    client.commit_offsets(vec![commit(100)]).await.unwrap();

    let leader = client.describe_quorum().await.unwrap().leader.expect("a leader");
    let leader_metrics = scrape(&nodes[(leader - 1) as usize].metrics).expect("metrics served");
    assert_eq!(gauge(&leader_metrics, "brook_controller_raft_is_leader"), Some(1));
    assert!(leader_metrics.contains("brook_controller_rpc_duration_seconds_bucket"));

    let killed_at = Instant::now();
    processes[(leader - 1) as usize] = None; // SIGKILL
    let new_leader = eventually("a new leader", Duration::from_secs(10), || {
        nodes
            .iter()
            .filter(|n| n.address.node_id != leader)
            .find(|n| scrape(&n.metrics).and_then(|m| gauge(&m, "brook_controller_raft_is_leader")) == Some(1))
            .map(|n| n.address.node_id)
    })
    .await;
    eprintln!("node {new_leader} leads {:?} after the kill", killed_at.elapsed());

    let image = leader_metadata(&client).await.image();
    for i in 0..10 {
        assert!(
            image.topic_by_name(&format!("t{i}")).is_some(),
            "t{i} lost with the leader"
        );
    }
    let group = vec![FetchOffsets {
        group_id: "g".into(),
        partitions: vec![],
    }];
    assert_eq!(client.fetch_offsets(group.clone()).await.unwrap()[0][0].offset, 100);

    // More than a snapshot interval of writes while the old leader is down.
    for offset in 101..160 {
        client.commit_offsets(vec![commit(offset)]).await.unwrap();
    }
    processes[(leader - 1) as usize] = Some(start(leader, &voters, &nodes, root.path()));
    let target = scrape(&nodes[(new_leader - 1) as usize].metrics)
        .and_then(|m| gauge(&m, "brook_controller_raft_applied_index"))
        .unwrap();
    eventually("the restarted node catches up", Duration::from_secs(15), || {
        let metrics = scrape(&nodes[(leader - 1) as usize].metrics)?;
        (gauge(&metrics, "brook_controller_raft_applied_index")? >= target).then_some(())
    })
    .await;
    assert_eq!(client.fetch_offsets(group).await.unwrap()[0][0].offset, 159);
    assert!(broker.cache().image().topic_by_name("t9").is_some());
}
