//! kafkajs against `brook dev`: the scripts in `tests/clients/js` (installed by `.ci/run`
//! with `npm ci`) assert their own round trips and exit non-zero with the reason.

use crate::common;
use crate::common::require;

use common::{DevCluster, node_client};

#[test]
fn kafkajs_admin_idempotent_produce_and_group_consume_read_every_record_in_key_order() {
    require!(Kafkajs);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let output = node_client("kafkajs_check.js")
        .args([cluster.kafka.as_str(), "kafkajs", "round-trip"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kafkajs_check.js failed ({}):\n{}\n{}\nbrook dev's log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        cluster.log()
    );
}
