//! `brook controller` and two `brook broker` processes: partitions spread over both
//! brokers, kcat produces to and consumes from both leaders; a SIGKILLed broker is fenced
//! (its partitions leaderless: RF=1, no unclean election) and leads them again after a
//! restart, with every record intact.

use crate::common;
use crate::common::require;

use std::time::Duration;

use common::cluster::Cluster;
use common::{consume_sorted, kcat, wait_until};

#[test]
fn two_brokers_share_partitions_and_a_killed_one_leads_again_after_a_restart() {
    require!(Kcat);
    let mut cluster = Cluster::start(1, 2, 4);
    let input: String = (0..10_000).map(|i| format!("key-{}:value-{i}\n", i % 101)).collect();
    kcat(
        &["-P", "-b", &cluster.bootstrap(), "-t", "spread", "-K:"],
        input.as_bytes(),
    );
    let leaders = cluster.leaders("spread");
    assert_eq!(leaders.len(), 4, "{leaders:?}");
    let led_by = |id: i32| leaders.iter().filter(|(_, l)| *l == id).count();
    assert_eq!((led_by(1), led_by(2)), (2, 2), "leaders are spread: {leaders:?}");
    let bootstrap = cluster.bootstrap();
    let consume = || consume_sorted(&bootstrap, "spread");
    let mut expected: Vec<String> = (0..10_000).map(|i| format!("value-{i}")).collect();
    expected.sort();
    assert!(consume() == expected, "records differ after producing");

    cluster.kill_broker(2);
    wait_until(
        "broker 2's partitions lose their leader",
        Duration::from_secs(20),
        || {
            let leaders = cluster.leaders("spread");
            leaders.len() == 4 && leaders.iter().filter(|(_, l)| *l == -1).count() == 2
        },
    );
    cluster.start_broker(2);
    wait_until("broker 2 leads its partitions again", Duration::from_secs(30), || {
        cluster.leaders("spread").iter().filter(|(_, l)| *l == 2).count() == 2
    });
    assert!(consume() == expected, "records differ after the restart");
}
