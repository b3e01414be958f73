//! `brook bench` against `brook dev`: short runs whose reports must count what was done
//! (their speed is for BENCHMARKS.md, not for tests), and clear errors for bad input.

use crate::common;
use crate::common::require;

use std::process::{Command, Output};

use common::{DevCluster, kcat};

fn bench(kafka: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brook"))
        .arg("bench")
        .args(args)
        .args(["--bootstrap", kafka])
        .output()
        .expect("brook runs")
}

#[test]
fn offset_commit_counts_its_commits_reads_them_back_and_cleans_up() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 4);
    kcat(&["-P", "-b", &cluster.kafka, "-t", "commits"], b"x\n");

    let args = ["offset-commit", "--topic", "commits", "--clients", "4"];
    let out = bench(
        &cluster.kafka,
        &[&args[..], &["--partitions-per-commit", "3", "--count", "300", "--json"]].concat(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["workload"], "offset-commit");
    assert_eq!(report["operations"], 300);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["item_count"], 900, "three offsets a commit");
    let p50 = report["latency_ms"]["p50"].as_f64().unwrap();
    let max = report["latency_ms"]["max"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= max, "{report}");

    let groups = Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(["group", "list", "--bootstrap", &cluster.kafka])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&groups.stdout);
    assert!(
        !listed.contains("brook-bench-"),
        "the run's groups are deleted: {listed}"
    );

    let text = bench(&cluster.kafka, &[&args[..], &["--duration", "0.5"]].concat());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("offset-commit: ") && text.contains("latency ms (commit round trip): p50"),
        "{text}"
    );

    let missing = bench(&cluster.kafka, &["offset-commit", "--topic", "nope", "--count", "1"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("cannot use topic nope") && stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{stderr}"
    );
}

fn json_report(kafka: &str, args: &[&str]) -> serde_json::Value {
    let out = bench(kafka, &[args, &["--json"]].concat());
    assert!(
        out.status.success(),
        "brook bench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn produce_consume_and_e2e_count_every_message() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();

    let produced = json_report(
        b,
        &[
            "produce",
            "--topic",
            "load",
            "--partitions",
            "6",
            "--count",
            "3000",
            "--message-size",
            "200",
        ],
    );
    assert_eq!(produced["workload"], "produce");
    assert_eq!(produced["operations"], 3000);
    assert_eq!(produced["errors"], 0);
    assert_eq!(produced["bytes"], 600_000);
    assert_eq!(produced["partitions"], 6);
    assert_eq!(produced["acks"], "all");
    let p50 = produced["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= produced["latency_ms"]["max"].as_f64().unwrap());
    // The messages are really there, whole.
    let out = kcat(&["-C", "-b", b, "-t", "load", "-e", "-q", "-f", "%S\n"], b"");
    let sizes = String::from_utf8(out.stdout).unwrap();
    assert_eq!(sizes.lines().count(), 3000);
    assert!(sizes.lines().all(|s| s == "200"));

    // Closed loop, 100 messages a batch, the brokers' request time beside it: the
    // last batch is short, and the phases count this run's produce requests.
    let batched = json_report(
        b,
        &[
            "produce",
            "--topic",
            "batched",
            "--partitions",
            "1",
            "--count",
            "1050",
            "--batch-messages",
            "100",
            "--broker-metrics",
            &cluster.metrics,
        ],
    );
    assert_eq!(
        (batched["operations"].as_u64(), batched["errors"].as_u64()),
        (Some(1050), Some(0))
    );
    assert_eq!(batched["batch_messages"], 100);
    assert_eq!(batched["latency_of"], "per batch, first send to last acknowledgement");
    let requests = batched["broker_time"]["Produce"]["requests"].as_f64().unwrap();
    assert!(
        (11.0..=1050.0).contains(&requests),
        "one request a batch or more: {requests}"
    );
    let total_p50 = batched["broker_time"]["Produce"]["total_ms"]["p50"].as_f64().unwrap();
    assert!(total_p50 > 0.0, "{batched}");
    let out = kcat(&["-C", "-b", b, "-t", "batched", "-e", "-q", "-f", "%o\n"], b"");
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1050);
    let both = bench(
        b,
        &["produce", "--topic", "batched", "--batch-messages", "10", "--rate", "5"],
    );
    assert!(!both.status.success(), "a closed loop takes no rate");

    let consumed = json_report(b, &["consume", "--topic", "load", "--consumers", "2"]);
    assert_eq!(consumed["operations"], 3000, "read to the end");
    assert_eq!(consumed["bytes"], 600_000);
    assert_eq!(consumed["consumers"], 2);
    let counted = json_report(b, &["consume", "--topic", "load", "--count", "1000"]);
    let read = counted["operations"].as_u64().unwrap();
    assert!(
        (1000..=3000).contains(&read),
        "stops after the poll reaching the count: {read}"
    );

    let e2e = json_report(
        b,
        &[
            "e2e", "--topic", "stamped", "--count", "2000", "--rate", "4000", "--acks", "1", "-z", "lz4",
        ],
    );
    assert_eq!(e2e["acknowledged"], 2000);
    assert_eq!(e2e["operations"], 2000, "every acknowledged message read");
    assert_eq!(e2e["compression"], "lz4");
    assert!(e2e.get("unstamped").is_none());
    assert!(e2e["latency_ms"]["p50"].as_f64().unwrap() > 0.0);

    let omb = json_report(
        b,
        &[
            "produce",
            "--workload",
            "1-topic-16-partitions-1kb",
            "--topic",
            "omb",
            "--count",
            "500",
            "--rate",
            "0",
        ],
    );
    assert_eq!(omb["omb_workload"], "1-topic-16-partitions-1kb");
    assert_eq!(
        (omb["partitions"].as_i64(), omb["message_size"].as_i64()),
        (Some(16), Some(1024))
    );
    assert_eq!(omb["target_rate"], "max", "--rate 0 overrides the preset's rate");

    let text = bench(b, &["consume", "--topic", "missing"]);
    assert!(!text.status.success());
    assert!(String::from_utf8_lossy(&text.stderr).contains("UNKNOWN_TOPIC_OR_PARTITION"));
}
