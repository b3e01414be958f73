//! Kafka 4.4's Java client against Brook: producer, consumer and AdminClient tests in
//! JUnit (`tests/kafka/src/test/java`), run through `tests/kafka/kafka.sh`. The same
//! tests run against Kafka 4.4 itself, so each expectation is checked against the
//! reference; where Brook does not serve a feature yet they expect its fast, clear
//! failure instead (`Target.isBrook()`).

use crate::common;
use crate::common::require;

use common::DevCluster;
use common::kafka::{KafkaNode, assert_passed, java_tests};

const JAVA: &str = "Java client tests";
const PASSED: &[&str] = &["tests successful"];

#[test]
fn the_java_client_works_against_brook() {
    require!(Kafka);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    assert_passed(JAVA, java_tests(&cluster.kafka, "brook", &[]), "Brook", PASSED, || {
        cluster.log()
    });
}

#[test]
fn the_java_client_tests_hold_on_kafka_4_4() {
    require!(Kafka);
    let dir = tempfile::tempdir().unwrap();
    let kafka = KafkaNode::start(dir.path());
    assert_passed(
        JAVA,
        java_tests(&kafka.bootstrap, "kafka", &[]),
        "Kafka 4.4",
        PASSED,
        || kafka.log(),
    );
}
