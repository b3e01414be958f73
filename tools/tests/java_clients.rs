//! Kafka 4.4's Java client against Brook: producer, consumer and AdminClient tests in
//! JUnit (`tests/kafka/src/test/java`), run through `tests/kafka/kafka.sh`. The same
//! tests run against Kafka 4.4 itself, so each expectation is checked against the
//! reference; where Brook does not serve a feature yet they expect its fast, clear
//! failure instead (`Target.isBrook()`).

mod common;

use common::DevCluster;
use common::kafka::{KafkaNode, java_tests};

fn assert_passed(output: std::process::Output, on: &str, log: impl FnOnce() -> String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "Java client tests failed against {on} ({}):\n{stdout}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        log()
    );
    assert!(stdout.contains("tests successful"), "{stdout}");
}

#[test]
fn the_java_client_works_against_brook() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    assert_passed(java_tests(&cluster.kafka, "brook", &[]), "Brook", || cluster.log());
}

#[test]
fn the_java_client_tests_hold_on_kafka_4_4() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = KafkaNode::start(dir.path());
    assert_passed(java_tests(&kafka.bootstrap, "kafka", &[]), "Kafka 4.4", || kafka.log());
}
