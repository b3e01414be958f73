//! Go clients against `brook dev`: franz-go (producer, group consumer, kadm admin) and
//! sarama (producer, consumer group and offset commits with its defaults), as `go test`
//! programs in `tests/clients/go` (modules fetched by `.ci/run`). They run against
//! Kafka 4.4 as well, so what they expect is Kafka's behaviour.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::DevCluster;
use common::kafka::KafkaNode;

fn go_tests(bootstrap: &str) -> Output {
    Command::new("go")
        .args(["test", "-count=1", "-v", "./..."])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/go"))
        .env("KAFKA_BOOTSTRAP", bootstrap)
        .output()
        .expect("go runs (.ci/run installs the modules)")
}

fn assert_passed(output: Output, on: &str, log: impl FnOnce() -> String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "Go client tests failed against {on} ({}):\n{stdout}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        log()
    );
    for test in ["TestFranzGo", "TestSarama"] {
        assert!(
            stdout.contains(&format!("--- PASS: {test}")),
            "{test} did not run:\n{stdout}"
        );
    }
}

#[test]
fn franz_go_and_sarama_work_against_brook() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    assert_passed(go_tests(&cluster.kafka), "Brook", || cluster.log());
}

#[test]
fn the_go_client_tests_hold_on_kafka_4_4() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = KafkaNode::start(dir.path());
    assert_passed(go_tests(&kafka.bootstrap), "Kafka 4.4", || kafka.log());
}
