//! confluent-kafka, kafka-python and aiokafka against `brook dev`. The Python comes from
//! `BROOK_PYTHON` (`.ci/run` makes a virtualenv with the three clients); each script
//! asserts its own round trip and exits non-zero with the reason when one fails.

use crate::common;
use crate::common::require;

use common::{DevCluster, python_client};

fn run_client_check(script: &str, topic: &str) {
    run_client_check_with(script, &[topic]);
}

fn run_client_check_with(script: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let output = python_client(script)
        .arg(&cluster.kafka)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run Python: {e} (set BROOK_PYTHON; .ci/run does)"));
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}\n{}\nbrook dev's log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        cluster.log()
    );
}

#[test]
fn confluent_kafka_produces_lz4_and_zstd_with_acks_all_and_consumes_everything_in_order() {
    require!(Python);
    run_client_check("confluent_check.py", "confluent");
}

#[test]
fn kafka_python_admin_produce_fetch_offsets_by_time_and_configs() {
    require!(Python);
    run_client_check("kafka_python_check.py", "kafka-python");
}

#[test]
fn aiokafka_admin_produce_fetch_offsets_by_time_and_configs() {
    require!(Python);
    run_client_check("aiokafka_check.py", "aiokafka");
}

#[test]
fn confluent_kafka_admin_partitions_configs_cluster_records_and_deletion() {
    require!(Python);
    run_client_check("confluent_admin_check.py", "administered");
}

#[test]
fn confluent_kafka_group_of_three_with_the_range_assignor_reads_each_message_once_and_resumes() {
    require!(Python);
    run_client_check_with("confluent_group_check.py", &["grouped-range", "range"]);
}

#[test]
fn confluent_kafka_group_of_three_with_cooperative_sticky_reads_each_message_once_and_resumes() {
    require!(Python);
    run_client_check_with("confluent_group_check.py", &["grouped-sticky", "cooperative-sticky"]);
}

#[test]
fn kafka_python_group_members_share_a_topic_and_resume_from_commits() {
    require!(Python);
    run_client_check_with("python_group_check.py", &["grouped-kafka-python", "kafka-python"]);
}

#[test]
fn aiokafka_group_members_share_a_topic_and_resume_from_commits() {
    require!(Python);
    run_client_check_with("python_group_check.py", &["grouped-aiokafka", "aiokafka"]);
}

#[test]
fn confluent_kafka_survivors_take_over_a_killed_members_partitions_from_its_last_commit() {
    require!(Python);
    run_client_check("confluent_member_failover_check.py", "failover");
}

#[test]
fn confluent_kafka_static_member_restarts_without_a_rebalance() {
    require!(Python);
    run_client_check("confluent_static_member_check.py", "static");
}

#[test]
fn confluent_kafka_lists_describes_and_deletes_groups() {
    require!(Python);
    run_client_check("confluent_group_admin_check.py", "admin-groups");
}

#[test]
fn confluent_kafka_and_aiokafka_idempotent_producers_write_each_message_once() {
    require!(Python);
    run_client_check("idempotent_check.py", "idempotent");
}
