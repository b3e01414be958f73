//! `brook cluster status` against a cluster of real processes (3 controllers, 3
//! brokers): it lists the brokers and the quorum's voters, and names the partitions a
//! killed broker leaves under-replicated.

use crate::common;
use crate::common::require;

use std::time::Duration;

use common::cluster::Cluster;
use common::{brook_ok, wait_until};

/// The rows of the table that starts with the header line `header`.
fn rows<'a>(status: &'a str, header: &str) -> Vec<&'a str> {
    status
        .lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn cluster_status_shows_brokers_quorum_and_under_replicated_partitions() {
    require!(Kcat);
    let mut cluster = Cluster::start(3, 3, 3);
    cluster.wait_for_brokers(3);
    let b = cluster.bootstrap();
    brook_ok(&["topic", "create", "replicated", "-p", "3", "-r", "3", "-b", &b]);
    let status = || brook_ok(&["cluster", "status", "-b", &b]);

    let healthy = status();
    assert_eq!(rows(&healthy, "BROKER").len(), 3, "{healthy}");
    let leader = cluster.wait_for_controller_leader();
    assert!(
        healthy.contains(&format!("controller quorum: leader {leader}, epoch ")),
        "{healthy}"
    );
    assert_eq!(rows(&healthy, "VOTER").len(), 3, "{healthy}");
    assert!(
        healthy.contains("partitions: 3 in 1 topics, 0 under-replicated, 0 offline"),
        "{healthy}"
    );

    cluster.kill_broker(3);
    wait_until("broker 3 out of every ISR", Duration::from_secs(30), || {
        status().contains("partitions: 3 in 1 topics, 3 under-replicated, 0 offline")
    });
    let degraded = status();
    assert!(
        degraded.contains("under-replicated: replicated-0 (in sync "),
        "{degraded}"
    );
    assert_eq!(
        rows(&degraded, "BROKER").len(),
        2,
        "a fenced broker is not listed:\n{degraded}"
    );
}
