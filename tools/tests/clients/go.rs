//! Go clients against `brook dev`: franz-go (producer, group consumer, kadm admin) and
//! sarama (producer, consumer group and offset commits with its defaults), as `go test`
//! programs in `tests/clients/go` (modules fetched by `.ci/run`). They run against
//! Kafka 4.4 as well, so what they expect is Kafka's behaviour.

use crate::common;
use crate::common::require;

use std::path::Path;
use std::process::{Command, Output};

use common::DevCluster;
use common::kafka::{KafkaNode, assert_passed};

const GO: &str = "Go client tests";
const PASSED: &[&str] = &["--- PASS: TestFranzGo", "--- PASS: TestSarama"];

fn go_tests(bootstrap: &str) -> Output {
    Command::new("go")
        .args(["test", "-count=1", "-v", "./..."])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/go"))
        .env("KAFKA_BOOTSTRAP", bootstrap)
        .output()
        .expect("go runs (.ci/run installs the modules)")
}

#[test]
fn franz_go_and_sarama_work_against_brook() {
    require!(Go);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    assert_passed(GO, go_tests(&cluster.kafka), "Brook", PASSED, || cluster.log());
}

#[test]
fn the_go_client_tests_hold_on_kafka_4_4() {
    require!(Go, Kafka);
    let dir = tempfile::tempdir().unwrap();
    let kafka = KafkaNode::start(dir.path());
    assert_passed(GO, go_tests(&kafka.bootstrap), "Kafka 4.4", PASSED, || kafka.log());
}
