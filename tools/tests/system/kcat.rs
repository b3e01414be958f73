//! kcat (librdkafka 2.0, Debian's package) against `brook dev`: metadata, 100,000 keyed
//! messages over 6 partitions back byte-identical, and everything acknowledged still
//! there after a SIGKILL and a restart.

use crate::common;
use crate::common::require;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{DevCluster, kcat, sample, scrape, wait_until};

const MESSAGES: usize = 100_000;

fn input() -> (Vec<u8>, BTreeMap<String, String>) {
    let mut text = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..MESSAGES {
        let key = format!("key-{}", i % 997);
        let value = format!("value-{i}-{}", "x".repeat(i % 50));
        text.extend_from_slice(format!("{key}\t{value}\n").as_bytes());
        expected.insert(value, key);
    }
    (text, expected)
}

/// (partition, offset, key, value) per consumed line.
fn consume_all(kafka: &str, topic: &str) -> Vec<(u32, i64, String, String)> {
    common::consume_raw(kafka, topic, "%p\t%o\t%k\t%s\t%h\n")
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "bad line {line:?}");
            assert_eq!(fields[4], "origin=kcat", "headers lost: {line:?}");
            (
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].to_string(),
                fields[3].to_string(),
            )
        })
        .collect()
}

#[test]
fn kcat_round_trips_keyed_messages_and_they_survive_a_kill() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = DevCluster::start(dir.path(), 6);
    let kafka = cluster.kafka.clone();

    let (text, expected) = input();
    kcat(
        &[
            "-P",
            "-b",
            &kafka,
            "-t",
            "orders",
            "-K",
            "\t",
            "-H",
            "origin=kcat",
            "-X",
            "linger.ms=5",
        ],
        &text,
    );

    let listing = String::from_utf8(kcat(&["-L", "-b", &kafka, "-t", "orders"], b"").stdout).unwrap();
    assert!(listing.contains("topic \"orders\" with 6 partitions"), "{listing}");
    assert!(listing.contains("leader 1, replicas: 1, isrs: 1"), "{listing}");

    let check = |consumed: Vec<(u32, i64, String, String)>| {
        assert_eq!(consumed.len(), MESSAGES);
        let mut next_offset: BTreeMap<u32, i64> = BTreeMap::new();
        let mut partition_of_key: BTreeMap<String, u32> = BTreeMap::new();
        for (partition, offset, key, value) in consumed {
            let expected_offset = next_offset.entry(partition).or_insert(0);
            assert_eq!(
                offset, *expected_offset,
                "offsets in partition {partition} are not dense"
            );
            *expected_offset += 1;
            assert_eq!(
                expected.get(&value),
                Some(&key),
                "value {value:?} came back with key {key:?}"
            );
            // One key, one partition (librdkafka's consistent_random partitioner).
            assert_eq!(*partition_of_key.entry(key).or_insert(partition), partition);
        }
        assert_eq!(next_offset.len(), 6, "not every partition got messages");
    };
    check(consume_all(&kafka, "orders"));

    // One endpoint serves the controller's and the broker's metrics.
    let metrics = scrape(&cluster.metrics);
    let orders = [("topic", "orders")];
    let produced = sample(&metrics, "brook_broker_produce_messages_total", &orders);
    assert_eq!(produced, Some(MESSAGES as f64));
    assert!(sample(&metrics, "brook_broker_fetch_bytes_total", &orders).unwrap() > 0.0);
    assert!(sample(&metrics, "brook_broker_requests_total", &[("api", "Produce")]).unwrap() > 0.0);
    assert_eq!(sample(&metrics, "brook_broker_partitions", &[]), Some(6.0));
    assert_eq!(sample(&metrics, "brook_controller_raft_is_leader", &[]), Some(1.0));
    let offsets: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("brook_broker_log_end_offset{") && l.contains("topic=\"orders\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(offsets, MESSAGES as f64, "log end offsets add up to what was produced");

    // kill -9: the restarted broker holds the same log directories, so it succeeds the
    // dead process's registration at once instead of waiting out its session.
    cluster.kill();
    cluster.restart();
    wait_until("metadata after the restart", Duration::from_secs(30), || {
        let out = std::process::Command::new("kcat")
            .args(["-L", "-b", &kafka, "-t", "orders"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("leader 1,")
    });
    check(consume_all(&kafka, "orders"));
    let waits = |log: &str| log.matches("waiting for the previous session to expire").count();
    assert_eq!(
        waits(&cluster.log()),
        0,
        "the restart after SIGKILL waited out the old session"
    );

    // SIGTERM: a clean stop (logs flushed, clean-shutdown marker written), and a restart
    // that does not wait either.
    assert!(cluster.terminate(), "brook dev did not exit cleanly on SIGTERM");
    assert!(
        dir.path().join("kafka/.brook_cleanshutdown").exists(),
        "no clean-shutdown marker"
    );
    cluster.restart();
    check(consume_all(&kafka, "orders"));
    assert_eq!(waits(&cluster.log()), 0, "the restart after a clean stop waited");
}

#[test]
fn kcat_balanced_consumer_reads_everything_once_and_resumes_from_its_commits() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 4);
    let kafka = cluster.kafka.clone();
    let lines: String = (0..2000).map(|i| format!("k{i}:v{i}\n")).collect();
    kcat(&["-P", "-b", &kafka, "-t", "balanced", "-K:"], lines.as_bytes());
    let read = |group: &str| {
        let out = kcat(
            // Not `-o beginning`: kcat applies it to every assignment, over the commits.
            &[
                "-b",
                &kafka,
                "-G",
                group,
                "balanced",
                "-e",
                "-q",
                "-X",
                "auto.offset.reset=earliest",
            ],
            b"",
        );
        String::from_utf8(out.stdout).unwrap().lines().count()
    };
    assert_eq!(read("readers"), 2000);
    assert_eq!(read("readers"), 0, "the group's commits were not used");
    assert_eq!(read("others"), 2000, "another group starts from the beginning");
}
