//! Partition reassignment and leader elections between `brook broker` processes:
//! `brook topic reassign` moves replicas while records are written, the new replicas
//! copy the log and the old ones delete theirs; a move to a broker that is down waits
//! and can be cancelled; a preferred-leader election (confluent-kafka's `elect_leaders`
//! and `brook topic elect-leaders`) gives leadership back to the first replica.

use crate::common;
use crate::common::require;

use std::time::Duration;

use common::cluster::Cluster;
use common::{brook_ok, brook_unchecked, consume_sorted, kcat, python_client, wait_until};

fn lines(prefix: &str, range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("{prefix}-{i:05}\n")).collect()
}

fn produce(cluster: &Cluster, topic: &str, partition: u32, input: &str) {
    let partition = partition.to_string();
    kcat(
        &[
            "-P",
            "-b",
            &cluster.bootstrap(),
            "-t",
            topic,
            "-p",
            &partition,
            "-X",
            "acks=all",
        ],
        input.as_bytes(),
    );
}

/// The partition's (replicas, isr, leader) as Metadata shows it.
fn placement(cluster: &Cluster, topic: &str, partition: u32) -> (Vec<i32>, Vec<i32>, i32) {
    let view = cluster
        .partitions(topic)
        .into_iter()
        .find(|p| p.partition == partition)
        .expect("the partition exists");
    let mut isr = view.isr.clone();
    isr.sort_unstable();
    (view.replicas, isr, view.leader)
}

#[test]
fn reassignment_moves_replicas_under_writes_and_old_replicas_drop_their_copy() {
    require!(Kcat);
    let cluster = Cluster::start(1, 3, 1);
    let bootstrap = cluster.bootstrap();
    brook_ok(&["topic", "create", "moving", "-p", "2", "-r", "1", "-b", &bootstrap]);
    // Both partitions start on one broker; find which.
    let (start, _, _) = placement(&cluster, "moving", 0);
    let from = start[0];
    let others: Vec<i32> = (1..=3).filter(|b| *b != from).collect();
    produce(&cluster, "moving", 0, &lines("before", 0..3000));

    // Move partition 0 to the two other brokers while more records arrive.
    let target = format!("{},{}", others[0], others[1]);
    let reassign = |extra: &[&str]| {
        let args = [
            "topic",
            "reassign",
            "moving",
            "-p",
            "0",
            "--replicas",
            &target,
            "-b",
            &bootstrap,
        ];
        brook_ok(&[&args[..], extra].concat())
    };
    reassign(&[]);
    produce(&cluster, "moving", 0, &lines("during", 0..3000));
    // Asking again for the same move changes nothing; --wait follows it to its end.
    let waited = reassign(&["--wait", "--timeout", "60"]);
    assert!(waited.contains("finished"), "{waited}");
    wait_until("the metadata shows the move", Duration::from_secs(20), || {
        placement(&cluster, "moving", 0) == (vec![others[0], others[1]], others.clone(), others[0])
    });
    assert!(
        brook_ok(&["topic", "reassignments", "-b", &bootstrap]).lines().count() == 1,
        "none listed"
    );

    // The old replica deletes its copy; the new ones have every record.
    let old_copy = cluster.root().join(format!("broker-{from}")).join("moving-0");
    wait_until("the old replica deletes its copy", Duration::from_secs(20), || {
        !old_copy.exists()
    });
    produce(&cluster, "moving", 0, &lines("after", 0..100));
    let read = consume_sorted(&bootstrap, "moving");
    let mut expected: Vec<String> = [
        lines("after", 0..100),
        lines("before", 0..3000),
        lines("during", 0..3000),
    ]
    .concat()
    .lines()
    .map(str::to_owned)
    .collect();
    expected.sort();
    assert_eq!(read.len(), expected.len());
    assert_eq!(read, expected, "every record once, after the move");
    for broker in &others {
        let copy = cluster.root().join(format!("broker-{broker}")).join("moving-0");
        assert!(copy.exists(), "broker {broker} holds a copy");
    }
}

#[test]
fn a_move_to_a_broker_that_is_down_waits_and_can_be_cancelled() {
    require!(Kcat);
    let mut cluster = Cluster::start(1, 3, 1);
    let bootstrap = cluster.bootstrap();
    brook_ok(&["topic", "create", "stuck", "-p", "1", "-r", "1", "-b", &bootstrap]);
    let (start, _, _) = placement(&cluster, "stuck", 0);
    let from = start[0];
    let down = if from == 3 { 2 } else { 3 };
    produce(&cluster, "stuck", 0, &lines("r", 0..100));
    cluster.kill_broker(down as u32);

    brook_ok(&[
        "topic",
        "reassign",
        "stuck",
        "--replicas",
        &down.to_string(),
        "-b",
        &bootstrap,
    ]);
    let listed = brook_ok(&["topic", "reassignments", "stuck", "-b", &bootstrap]);
    let row: Vec<&str> = listed
        .lines()
        .nth(1)
        .expect("one reassignment listed")
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..5],
        [
            "stuck",
            "0",
            &format!("{down},{from}")[..],
            &down.to_string()[..],
            &from.to_string()[..]
        ]
    );
    let listed: serde_json::Value = serde_json::from_str(&brook_ok(&[
        "topic",
        "reassignments",
        "--format",
        "json",
        "-b",
        &bootstrap,
    ]))
    .unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"topic": "stuck", "partition": 0, "replicas": [down, from],
            "adding": [down], "removing": [from]}])
    );
    let described = brook_ok(&["topic", "describe", "stuck", "-b", &bootstrap]);
    assert!(described.contains("reassigning"), "{described}");
    assert_eq!(placement(&cluster, "stuck", 0).2, from, "the old replica still leads");

    brook_ok(&["topic", "reassign", "stuck", "--cancel", "-b", &bootstrap]);
    wait_until("the cancel shows", Duration::from_secs(10), || {
        placement(&cluster, "stuck", 0).0 == vec![from]
    });
    let again = brook_unchecked(&["topic", "reassign", "stuck", "--cancel", "-b", &bootstrap]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("NO_REASSIGNMENT_IN_PROGRESS"));
    let invalid = brook_unchecked(&["topic", "reassign", "stuck", "--replicas", "1,1", "-b", &bootstrap]);
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("INVALID_REPLICA_ASSIGNMENT"));
    assert_eq!(consume_sorted(&bootstrap, "stuck").len(), 100);
}

#[test]
fn preferred_leaders_are_elected_again_after_a_failover() {
    require!(Kcat, Python);
    let mut cluster = Cluster::start(1, 3, 1);
    let bootstrap = cluster.bootstrap();
    brook_ok(&["topic", "create", "elected", "-p", "3", "-r", "3", "-b", &bootstrap]);
    wait_until("every replica in sync", Duration::from_secs(30), || {
        cluster.partitions("elected").iter().all(|p| p.isr.len() == 3)
    });
    let preferred: Vec<i32> = cluster.partitions("elected").iter().map(|p| p.replicas[0]).collect();
    let first = preferred[0] as u32;
    cluster.kill_broker(first);
    wait_until("leadership moves away", Duration::from_secs(20), || {
        cluster
            .partitions("elected")
            .iter()
            .all(|p| p.leader != first as i32 && p.leader >= 0)
    });
    cluster.start_broker(first);
    wait_until("the broker rejoins every ISR", Duration::from_secs(30), || {
        cluster.partitions("elected").iter().all(|p| p.isr.len() == 3)
    });
    let moved: Vec<u32> = cluster
        .partitions("elected")
        .iter()
        .filter(|p| p.leader != p.replicas[0])
        .map(|p| p.partition)
        .collect();
    assert!(!moved.is_empty(), "broker {first} led something before it was killed");

    // confluent-kafka elects partition 0's preferred leader; brook the rest.
    let out = python_client("elect_preferred.py")
        .args([&bootstrap, "elected", "0,1,2"])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{answer}{}", String::from_utf8_lossy(&out.stderr));
    for partition in 0..3u32 {
        let expected = if moved.contains(&partition) {
            "OK"
        } else {
            "ELECTION_NOT_NEEDED"
        };
        assert!(answer.contains(&format!("{partition} {expected}")), "{answer}");
    }
    assert!(cluster.partitions("elected").iter().all(|p| p.leader == p.replicas[0]));
    let none_needed = brook_ok(&["topic", "elect-leaders", "-b", &bootstrap]);
    assert!(
        none_needed.contains("already has its preferred leader"),
        "{none_needed}"
    );
    let unneeded = brook_unchecked(&["topic", "elect-leaders", "elected:0", "-b", &bootstrap]);
    assert!(String::from_utf8_lossy(&unneeded.stderr).contains("ELECTION_NOT_NEEDED"));
    let none_as_json = brook_ok(&["topic", "elect-leaders", "--format", "json", "-b", &bootstrap]);
    assert_eq!(none_as_json.trim(), "[]");
    let unneeded = brook_unchecked(&[
        "topic",
        "elect-leaders",
        "elected:0",
        "--format",
        "yaml",
        "-b",
        &bootstrap,
    ]);
    assert_eq!(unneeded.status.code(), Some(1));
    let rows: serde_yaml::Value = serde_yaml::from_slice(&unneeded.stdout).unwrap();
    assert_eq!(rows[0]["topic"], "elected");
    assert_eq!(rows[0]["partition"], 0);
    assert!(rows[0]["done"].is_null(), "{rows:?}");
    assert!(
        rows[0]["error"].as_str().unwrap().contains("ELECTION_NOT_NEEDED"),
        "{rows:?}"
    );
}

/// KIP-860: AlterPartitionReassignments v1 with `allowReplicationFactorChange` false
/// refuses a target of another size (`INVALID_REPLICATION_FACTOR`) and still takes one
/// of the same size, in the same request.
#[test]
fn a_reassignment_may_forbid_a_replication_factor_change() {
    require!(Kcat);
    use crate::common::BlockingConnection;
    use brook_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
    use brook_protocol::messages::{
        AlterPartitionReassignmentsRequest, BrokerId, RequestKind, ResponseKind, TopicName,
    };
    use brook_protocol::{ApiKey, ErrorCode, StrBytes};

    let cluster = Cluster::start(1, 3, 1);
    let bootstrap = cluster.bootstrap();
    brook_ok(&["topic", "create", "fixed", "-p", "2", "-r", "2", "-b", &bootstrap]);
    let (on, _, _) = placement(&cluster, "fixed", 1);
    let spare = (1..=3).find(|b| !on.contains(b)).unwrap();
    let target = |brokers: &[i32]| Some(brokers.iter().map(|b| BrokerId(*b)).collect());
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(10_000)
        .with_allow_replication_factor_change(false)
        .with_topics(vec![
            ReassignableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("fixed")))
                .with_partitions(vec![
                    ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(target(&[1, 2, 3])),
                    ReassignablePartition::default()
                        .with_partition_index(1)
                        .with_replicas(target(&[on[0], spare])),
                ]),
        ]);
    let connection = BlockingConnection::connect(bootstrap.split(',').next().unwrap(), "kip-860-test");
    let Ok(ResponseKind::AlterPartitionReassignments(answer)) = connection.call(
        ApiKey::AlterPartitionReassignments,
        1,
        RequestKind::AlterPartitionReassignments(request),
    ) else {
        panic!("no AlterPartitionReassignments answer")
    };
    let codes: Vec<(i32, i16)> = answer.responses[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert!(
        codes.contains(&(0, ErrorCode::InvalidReplicationFactor.code())),
        "{answer:?}"
    );
    assert!(codes.contains(&(1, 0)), "the same size is taken: {answer:?}");
    wait_until("partition 1 moves", Duration::from_secs(30), || {
        let (replicas, _, _) = placement(&cluster, "fixed", 1);
        replicas.contains(&spare) && replicas.len() == 2
    });
    assert_eq!(
        placement(&cluster, "fixed", 0).0.len(),
        2,
        "partition 0 kept its replicas"
    );
}
