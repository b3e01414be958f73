//! `brook bench` against `brook dev`: short runs whose reports must count what was done
//! (their speed is for BENCHMARKS.md, not for tests), and clear errors for bad input.

mod common;

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
        text.starts_with("offset-commit: ") && text.contains("latency ms: p50"),
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
