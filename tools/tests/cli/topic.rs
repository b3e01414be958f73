//! `brook topic` against `brook dev`, run as real processes: the lifecycle of a topic
//! (create, list, describe, add partitions, alter configs, delete), checked with kcat,
//! and the non-zero exits and clear messages of refused or unreachable requests.

use crate::common;
use crate::common::require;

use common::{DevCluster, brook_ok, brook_refused as refused, kcat};

#[test]
fn brook_topic_creates_lists_describes_alters_and_deletes() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.clone();
    let topic = |args: &[&str]| brook_ok(&[&["topic"][..], args, &["-b", &b]].concat());

    let created = topic(&["create", "orders", "events", "-p", "3", "-c", "retention.ms=60000"]);
    assert!(created.contains("created topic orders") && created.contains("created topic events"));
    let listed = topic(&["list"]);
    let row = listed.lines().find(|l| l.starts_with("orders")).expect("orders listed");
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["orders", "3", "1"]);

    let described = topic(&["describe", "orders"]);
    assert_eq!(described.lines().count(), 4, "a header and 3 partitions:\n{described}");
    assert!(
        described
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .eq(["orders", "0", "1", "1", "1"])
    );

    let with_configs = topic(&["describe", "orders", "-c"]);
    let row = |name: &str| {
        with_configs
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("{name} in:\n{with_configs}"))
    };
    assert_eq!(row("retention.ms"), ["retention.ms", "60000", "DYNAMIC_TOPIC_CONFIG"]);
    assert_eq!(row("cleanup.policy")[2], "DEFAULT_CONFIG", "{with_configs}");

    topic(&["add-partitions", "orders", "-n", "2"]);
    assert_eq!(topic(&["describe", "orders"]).lines().count(), 6);
    kcat(&["-P", "-b", &b, "-t", "orders", "-p", "4"], b"to-the-new-partition\n");

    topic(&[
        "alter-config",
        "orders",
        "--set",
        "retention.ms=120000",
        "--delete",
        "cleanup.policy",
    ]);

    topic(&["delete", "events"]);
    assert!(!topic(&["list"]).contains("events"));

    assert!(refused(&["topic", "create", "orders", "-b", &b]).contains("TOPIC_ALREADY_EXISTS"));
    assert!(refused(&["topic", "describe", "nope", "-b", &b]).contains("UNKNOWN_TOPIC_OR_PARTITION"));
    assert!(refused(&["topic", "delete", "nope", "-b", &b]).contains("UNKNOWN_TOPIC_OR_PARTITION"));
    assert!(refused(&["topic", "create", "bad name", "-b", &b]).contains("INVALID_TOPIC_EXCEPTION"));
    let bad_config = refused(&[
        "topic",
        "alter-config",
        "orders",
        "--set",
        "retention.ms=soon",
        "-b",
        &b,
    ]);
    assert!(bad_config.contains("INVALID_CONFIG"), "{bad_config}");
    assert!(refused(&["topic", "add-partitions", "orders", "-n", "0", "-b", &b]).contains("at least 1"));
}

#[test]
fn an_unreachable_cluster_is_a_clear_error() {
    let stderr = refused(&["topic", "list", "-b", "127.0.0.1:1"]);
    assert!(stderr.contains("cannot reach 127.0.0.1:1"), "{stderr}");
}
