//! Replication between `brook broker` processes (RF=3, `min.insync.replicas=2`), driven
//! by kcat: acknowledged records are on every in-sync replica, a killed leader is
//! replaced from the ISR with nothing acknowledged lost, a killed follower catches up
//! after its restart and rejoins the ISR, and `acks=all` is refused once too few
//! replicas are in sync.

use crate::common;
use crate::common::require;

use std::time::Duration;

use brook_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use brook_protocol::messages::{BrokerId, CreateTopicsRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, StrBytes};
use common::cluster::{Cluster, Timeouts};
use common::proxy::{Direction, Fault};
use common::{BlockingConnection, LineScript, consume_sorted, kcat, kcat_unchecked, sample, wait_until};

const TOPIC: &str = "replicated";

/// Creates `name` with one partition per entry of `replicas` (placed there, the first
/// replica preferred as leader) and `min.insync.replicas`.
fn create_topic(bootstrap: &str, name: &str, replicas: &[&[i32]], min_insync: i32) {
    let first = bootstrap.split(',').next().unwrap();
    let connection = BlockingConnection::connect(first, "replication-test");
    let assignments = replicas
        .iter()
        .enumerate()
        .map(|(partition, brokers)| {
            CreatableReplicaAssignment::default()
                .with_partition_index(partition as i32)
                .with_broker_ids(brokers.iter().map(|b| BrokerId(*b)).collect())
        })
        .collect();
    let topic = CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(assignments)
        .with_configs(vec![
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("min.insync.replicas"))
                .with_value(Some(StrBytes::from_string(min_insync.to_string()))),
        ]);
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(10_000);
    let Ok(ResponseKind::CreateTopics(response)) =
        connection.call(ApiKey::CreateTopics, 5, RequestKind::CreateTopics(request))
    else {
        panic!("no CreateTopics answer")
    };
    assert_eq!(response.topics[0].error_code, 0, "{response:?}");
}

/// Three partitions on three brokers, leaders spread, `min.insync.replicas=2`.
const SPREAD: [&[i32]; 3] = [&[1, 2, 3], &[2, 3, 1], &[3, 1, 2]];

/// `controllers` voters and three brokers, with `TOPIC` spread over them and in sync.
fn spread_cluster(controllers: u32) -> Cluster {
    let cluster = Cluster::start_proxied(controllers, 3, 1, Timeouts::default());
    create_topic(&cluster.bootstrap(), TOPIC, &SPREAD, 2);
    wait_until("every replica in sync", Duration::from_secs(30), || {
        all_in_sync(&cluster, 3)
    });
    cluster
}

/// Produces `input` lines to `TOPIC` with acks=all (kcat's default), giving up on a
/// message after `timeout_ms`, with `extra` kcat arguments; kcat's output, whatever it is.
fn try_produce(cluster: &Cluster, timeout_ms: u32, extra: &[&str], input: &[u8]) -> std::process::Output {
    let timeout = format!("message.timeout.ms={timeout_ms}");
    let args = ["-P", "-b", &cluster.bootstrap(), "-t", TOPIC, "-X", &timeout];
    kcat_unchecked(&[&args[..], extra].concat(), input)
}

/// Produces `values` with acks=all; panics if any is not acknowledged.
fn produce(cluster: &Cluster, values: impl Iterator<Item = String>) {
    let input: String = values.map(|v| format!("{v}\n")).collect();
    let out = try_produce(cluster, 30_000, &[], input.as_bytes());
    assert!(
        out.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The log end offset broker `id` reports for each partition of the topic.
fn log_ends(cluster: &Cluster, id: u32, partitions: u32) -> Option<Vec<i64>> {
    topic_log_ends(cluster, id, TOPIC, partitions)
}

fn topic_log_ends(cluster: &Cluster, id: u32, topic: &str, partitions: u32) -> Option<Vec<i64>> {
    let metrics = cluster.broker_metrics(id)?;
    (0..partitions)
        .map(|p| {
            sample(
                &metrics,
                "brook_broker_log_end_offset",
                &[("topic", topic), ("partition", &p.to_string())],
            )
            .map(|v| v as i64)
        })
        .collect()
}

fn all_in_sync(cluster: &Cluster, brokers: usize) -> bool {
    topic_in_sync(cluster, TOPIC, brokers)
}

/// Starts broker `id` again; waits until it is back in the ISR of `topic`'s single
/// partition (on two brokers) with its log ending at `end`.
fn restart_and_catch_up(cluster: &mut Cluster, id: u32, topic: &str, end: i64) {
    cluster.start_broker(id);
    wait_until("the restarted broker back in the ISR", Duration::from_secs(60), || {
        topic_in_sync(cluster, topic, 2)
    });
    wait_until("the restarted broker caught up", Duration::from_secs(30), || {
        topic_log_ends(cluster, id, topic, 1) == Some(vec![end])
    });
}

fn topic_in_sync(cluster: &Cluster, topic: &str, brokers: usize) -> bool {
    let partitions = cluster.partitions(topic);
    !partitions.is_empty() && partitions.iter().all(|p| p.isr.len() == brokers && p.leader > 0)
}

#[test]
fn acknowledged_records_survive_leader_and_follower_kills() {
    require!(Kcat);
    let mut cluster = spread_cluster(1);

    produce(&cluster, (0..3000).map(|i| format!("a-{i:05}")));
    wait_until("every replica has every record", Duration::from_secs(30), || {
        let ends: Vec<Option<Vec<i64>>> = (1..=3).map(|id| log_ends(&cluster, id, 3)).collect();
        ends.iter().all(|e| e.is_some()) && ends.windows(2).all(|w| w[0] == w[1])
    });
    assert_eq!(log_ends(&cluster, 1, 3).unwrap().iter().sum::<i64>(), 3000);

    // The leader of partition 0 dies: another ISR member takes over, nothing is lost.
    let victim = cluster.partitions(TOPIC)[0].leader as u32;
    cluster.kill_broker(victim);
    wait_until("a new leader for partition 0", Duration::from_secs(20), || {
        cluster
            .partitions(TOPIC)
            .first()
            .is_some_and(|p| p.leader > 0 && p.leader as u32 != victim && !p.isr.contains(&(victim as i32)))
    });
    produce(&cluster, (0..3000).map(|i| format!("b-{i:05}")));
    let mut expected: Vec<String> = (0..3000)
        .map(|i| format!("a-{i:05}"))
        .chain((0..3000).map(|i| format!("b-{i:05}")))
        .collect();
    expected.sort();
    assert!(
        consume_sorted(&cluster.bootstrap(), TOPIC) == expected,
        "records lost or doubled after the leader's death"
    );

    // Back again: it truncates to the new leaders, catches up and rejoins every ISR.
    cluster.start_broker(victim);
    wait_until(
        "the restarted broker back in every ISR",
        Duration::from_secs(60),
        || all_in_sync(&cluster, 3),
    );
    wait_until("the restarted broker caught up", Duration::from_secs(30), || {
        log_ends(&cluster, victim, 3) == log_ends(&cluster, (victim % 3) + 1, 3)
    });

    // With two brokers down, one replica is in sync: acks=all is refused.
    let others: Vec<u32> = (1..=3).filter(|b| *b != victim).collect();
    cluster.kill_broker(others[0]);
    cluster.kill_broker(others[1]);
    wait_until("the survivor alone in the ISR", Duration::from_secs(20), || {
        cluster
            .partitions(TOPIC)
            .iter()
            .all(|p| p.isr == [victim as i32] && p.leader == victim as i32)
    });
    let refused = try_produce(&cluster, 3000, &["-X", "retries=0"], b"refused\n");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("NOT_ENOUGH_REPLICAS") || stderr.contains("Not enough in-sync replicas"),
        "kcat: {stderr}"
    );
    assert!(!consume_sorted(&cluster.bootstrap(), TOPIC).contains(&"refused".to_string()));
}

/// Milliseconds since the Unix epoch, as the check script's ack times count them.
fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Rounds of faults under a live producer and consumer (confluent-kafka, acks=all, no
/// idempotence): each round stops one partition's leader (SIGKILL in even rounds,
/// SIGTERM, a controlled shutdown, in odd ones), restarts it once a new leader serves,
/// waits for it to rejoin every ISR, then SIGKILLs the controller leader and restarts it,
/// then cuts a follower of the round's partition off the network (it also leads another
/// partition, and goes on believing so until it hears otherwise) for longer than its
/// session, and heals the network. `BROOK_FAULT_ROUNDS` sets the rounds (default 2;
/// BENCHMARKS.md's failover times come from 20).
#[test]
fn acknowledged_writes_survive_rounds_of_leader_and_controller_kills() {
    require!(Kcat, Python);
    let rounds: usize = std::env::var("BROOK_FAULT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let mut cluster = spread_cluster(3);

    let mut script = LineScript::start("replicated_writes_check.py", &[&cluster.bootstrap(), TOPIC, "3"]);
    let next_line = |script: &mut LineScript, what: &str| {
        script
            .next_line(Duration::from_secs(90))
            .unwrap_or_else(|| panic!("the check script printed no {what}"))
    };
    assert_eq!(next_line(&mut script, "ready"), "ready");

    let mut failovers = Vec::new();
    for round in 0..rounds {
        std::thread::sleep(Duration::from_secs(1));
        let partition = round % 3;
        let victim = cluster.partitions(TOPIC)[partition].leader as u32;
        let stopped_at = epoch_ms();
        let how = if round % 2 == 0 {
            cluster.kill_broker(victim);
            "SIGKILL"
        } else {
            assert!(cluster.terminate_broker(victim), "a controlled shutdown exits cleanly");
            "SIGTERM"
        };
        script.send(&format!("killed {partition} {stopped_at}"));
        failovers.push(format!("{how}: {}", next_line(&mut script, "failover time")));
        cluster.start_broker(victim);
        wait_until(
            "the restarted broker back in every ISR",
            Duration::from_secs(60),
            || all_in_sync(&cluster, 3),
        );

        let controller = cluster.wait_for_controller_leader();
        cluster.kill_controller(controller);
        std::thread::sleep(Duration::from_millis(500));
        cluster.start_controller(controller);
        cluster.wait_for_controller_leader();

        let leader = cluster.partitions(TOPIC)[partition].leader as u32;
        let follower = (1..=3).find(|b| *b != leader).unwrap();
        let cut_at = std::time::Instant::now();
        cluster.isolate_broker(follower);
        wait_until("the cut-off broker leaves every ISR", Duration::from_secs(30), || {
            cluster
                .partitions(TOPIC)
                .iter()
                .all(|p| !p.isr.contains(&(follower as i32)))
        });
        let out_after = cut_at.elapsed();
        std::thread::sleep(Duration::from_secs(1));
        cluster.heal();
        let healed_at = std::time::Instant::now();
        wait_until("the healed broker back in every ISR", Duration::from_secs(60), || {
            all_in_sync(&cluster, 3)
        });
        failovers.push(format!(
            "broker {follower} cut off: out of every ISR after {} ms, back {} ms after the heal",
            out_after.as_millis(),
            healed_at.elapsed().as_millis()
        ));
    }
    script.send("stop");
    let summary = script.finish(|| cluster.logs());
    eprintln!("{}\nper round: {failovers:?}", summary.join("\n"));
}

/// An old leader's writes that no follower copied (acks=1) are cut when it comes back as
/// a follower of the new leader: its log ends up identical to the new leader's, which it
/// then serves when it leads again.
#[test]
fn a_returning_leader_truncates_its_divergent_tail() {
    require!(Kcat);
    const DIVERGE: &str = "diverge";
    // Sessions long enough that a briefly paused follower stays in the ISR.
    let timeouts = Timeouts {
        session_ms: 6000,
        ..Timeouts::default()
    };
    let mut cluster = Cluster::start_with(1, 2, 1, timeouts);
    create_topic(&cluster.bootstrap(), DIVERGE, &[&[1, 2]], 1);
    wait_until("both replicas in sync", Duration::from_secs(30), || {
        topic_in_sync(&cluster, DIVERGE, 2)
    });
    let produce_to = |broker: &str, acks: &str, prefix: &str, n: usize| {
        let lines: String = (0..n).map(|i| format!("{prefix}-{i}\n")).collect();
        kcat(
            &["-P", "-b", broker, "-t", DIVERGE, "-X", &format!("acks={acks}")],
            lines.as_bytes(),
        );
    };
    let (first, second) = (
        cluster.broker_address(1).to_owned(),
        cluster.broker_address(2).to_owned(),
    );
    produce_to(&first, "all", "before", 10);
    wait_until("the follower has the first ten", Duration::from_secs(20), || {
        topic_log_ends(&cluster, 2, DIVERGE, 1) == Some(vec![10])
    });

    // The follower freezes; once its pending fetch has been answered (it long-polls for
    // 500 ms), nothing more reaches it. The leader takes five writes only it has, then dies.
    cluster.pause_broker(2, true);
    std::thread::sleep(Duration::from_secs(1));
    produce_to(&first, "1", "divergent", 5);
    assert_eq!(topic_log_ends(&cluster, 1, DIVERGE, 1), Some(vec![15]));
    cluster.kill_broker(1);
    cluster.pause_broker(2, false);
    wait_until("broker 2 leads", Duration::from_secs(30), || {
        cluster.partitions(DIVERGE).first().is_some_and(|p| p.leader == 2)
    });
    produce_to(&second, "all", "after", 3);

    // Broker 1 returns as a follower: it cuts its five, then copies the leader's three.
    restart_and_catch_up(&mut cluster, 1, DIVERGE, 13);
    assert!(
        cluster
            .logs()
            .contains("truncated to where the log agrees with the leader"),
        "broker 1 never truncated"
    );
    // Broker 2 steps down (controlled shutdown): broker 1 serves what broker 2 had.
    assert!(cluster.terminate_broker(2));
    wait_until("broker 1 leads", Duration::from_secs(30), || {
        cluster.partitions(DIVERGE).first().is_some_and(|p| p.leader == 1)
    });
    let expected: Vec<String> = (0..10)
        .map(|i| format!("before-{i}"))
        .chain((0..3).map(|i| format!("after-{i}")))
        .collect();
    let out = kcat(&["-C", "-b", &first, "-t", DIVERGE, "-o", "beginning", "-e", "-q"], b"");
    let values: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        values, expected,
        "the old leader's divergent records are gone, in order"
    );
}

/// Every process SIGKILLed at once and started again: what `acks=all` acknowledged is
/// all there.
#[test]
fn acknowledged_records_survive_a_full_cluster_kill() {
    require!(Kcat);
    let mut cluster = spread_cluster(3);
    produce(&cluster, (0..5000).map(|i| format!("r-{i:05}")));
    for id in 1..=3 {
        cluster.kill_broker(id);
        cluster.kill_controller(id);
    }
    for id in 1..=3 {
        cluster.start_controller(id);
        cluster.start_broker(id);
    }
    cluster.wait_for_brokers(3);
    wait_until("every replica in sync again", Duration::from_secs(60), || {
        all_in_sync(&cluster, 3)
    });
    let expected: Vec<String> = (0..5000).map(|i| format!("r-{i:05}")).collect();
    wait_until("every acknowledged record readable", Duration::from_secs(30), || {
        consume_sorted(&cluster.bootstrap(), TOPIC) == expected
    });
}

/// A follower that was away while the leader deleted the records after its end (here by
/// DeleteRecords) empties its log, starts again at the leader's log start and rejoins.
#[test]
fn a_follower_behind_the_leaders_log_start_starts_over_there() {
    require!(Kcat);
    use brook_protocol::messages::DeleteRecordsRequest;
    use brook_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};

    const TRIMMED: &str = "trimmed";
    let mut cluster = Cluster::start(1, 2, 1);
    create_topic(&cluster.bootstrap(), TRIMMED, &[&[1, 2]], 1);
    wait_until("both replicas in sync", Duration::from_secs(30), || {
        topic_in_sync(&cluster, TRIMMED, 2)
    });
    let leader = cluster.broker_address(1).to_owned();
    let produce_n = |prefix: &str, n: usize| {
        let lines: String = (0..n).map(|i| format!("{prefix}-{i}\n")).collect();
        kcat(&["-P", "-b", &leader, "-t", TRIMMED], lines.as_bytes());
    };
    produce_n("kept", 20);
    wait_until("the follower has 20", Duration::from_secs(20), || {
        topic_log_ends(&cluster, 2, TRIMMED, 1) == Some(vec![20])
    });
    cluster.kill_broker(2);
    wait_until("broker 2 out of the ISR", Duration::from_secs(20), || {
        cluster.partitions(TRIMMED).first().is_some_and(|p| p.isr == [1])
    });
    produce_n("later", 100);
    let connection = BlockingConnection::connect(&leader, "replication-test");
    let request = DeleteRecordsRequest::default().with_timeout_ms(5000).with_topics(vec![
        DeleteRecordsTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TRIMMED)))
            .with_partitions(vec![
                DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(110),
            ]),
    ]);
    let Ok(ResponseKind::DeleteRecords(answer)) =
        connection.call(ApiKey::DeleteRecords, 2, RequestKind::DeleteRecords(request))
    else {
        panic!("no DeleteRecords answer")
    };
    assert_eq!(answer.topics[0].partitions[0].low_watermark, 110);

    restart_and_catch_up(&mut cluster, 2, TRIMMED, 120);
    assert!(
        cluster
            .logs()
            .contains("emptied the log to start at the leader's log start")
    );
}

/// A follower that stops fetching (SIGSTOP, shorter than its session so it is never
/// fenced) leaves the ISR after `replica.lag.time.max.ms`, through the leader's
/// AlterPartition; `acks=all` writes go on without it, and it rejoins once it has caught up.
#[test]
fn a_stalled_follower_leaves_the_isr_by_lag_and_rejoins() {
    require!(Kcat);
    lagging_follower_leaves_and_rejoins(false, |cluster, stalled| cluster.pause_broker(2, stalled));
}

/// The same with the network at fault: the proxy in front of the leader holds every
/// fetch answer to the follower (one direction cut; its requests still arrive, and its
/// heartbeats to the controller flow).
#[test]
fn a_follower_cut_off_from_its_leader_leaves_the_isr_by_lag_and_rejoins() {
    require!(Kcat);
    lagging_follower_leaves_and_rejoins(true, |cluster, cut| {
        if cut {
            cluster.disturb_replication(2, Fault::Blackhole(Direction::Downstream));
        } else {
            cluster.heal();
        }
    });
}

/// And with every connection of the follower's fetcher to its leader reset as soon as it
/// is made (its fetches never complete).
#[test]
fn a_follower_whose_connections_are_reset_leaves_the_isr_by_lag_and_rejoins() {
    require!(Kcat);
    lagging_follower_leaves_and_rejoins(true, |cluster, cut| {
        if cut {
            cluster.disturb_replication(2, Fault::Drop);
        } else {
            cluster.heal();
        }
    });
}

/// Fetches delayed on the network delay `acks=all` by at least as long (the high
/// watermark moves only when the follower's next fetch arrives), and nothing else.
#[test]
fn delayed_replication_delays_acks_all_by_at_least_the_delay() {
    require!(Kcat);
    const DELAYED: &str = "delayed";
    let cluster = Cluster::start_proxied(1, 2, 1, Timeouts::default());
    create_topic(&cluster.bootstrap(), DELAYED, &[&[1, 2]], 2);
    wait_until("both replicas in sync", Duration::from_secs(30), || {
        topic_in_sync(&cluster, DELAYED, 2)
    });
    let delay = Duration::from_millis(400);
    cluster.disturb_replication(2, Fault::Delay(delay));
    let started = std::time::Instant::now();
    kcat(
        &["-P", "-b", cluster.broker_address(1), "-t", DELAYED, "-X", "acks=all"],
        b"slow\n",
    );
    assert!(
        started.elapsed() >= delay,
        "acknowledged before the follower could have copied it"
    );
    assert_eq!(cluster.partitions(DELAYED)[0].isr.len(), 2, "a delay is not a lag");
}

/// Broker 2 follows broker 1 for one partition; `lag(cluster, true)` makes it lag (it
/// must stay in its session: it is never fenced), `lag(cluster, false)` ends that.
fn lagging_follower_leaves_and_rejoins(proxied: bool, lag: impl Fn(&mut Cluster, bool)) {
    const LAGGING: &str = "lagging";
    let timeouts = Timeouts {
        session_ms: 8000,
        replica_lag_ms: 1000,
    };
    let mut cluster = if proxied {
        Cluster::start_proxied(1, 2, 1, timeouts)
    } else {
        Cluster::start_with(1, 2, 1, timeouts)
    };
    create_topic(&cluster.bootstrap(), LAGGING, &[&[1, 2]], 1);
    wait_until("both replicas in sync", Duration::from_secs(30), || {
        topic_in_sync(&cluster, LAGGING, 2)
    });
    let leader = cluster.broker_address(1).to_owned();

    lag(&mut cluster, true);
    // acks=all waits for the follower until the leader drops it from the ISR.
    let lines: String = (0..10).map(|i| format!("while-lagging-{i}\n")).collect();
    kcat(
        &["-P", "-b", &leader, "-t", LAGGING, "-X", "acks=all"],
        lines.as_bytes(),
    );
    assert_eq!(
        cluster.partitions(LAGGING)[0].isr,
        [1],
        "acknowledged only once 2 left the ISR"
    );
    lag(&mut cluster, false);

    wait_until("broker 2 back in the ISR", Duration::from_secs(30), || {
        topic_in_sync(&cluster, LAGGING, 2)
    });
    assert_eq!(topic_log_ends(&cluster, 2, LAGGING, 1), Some(vec![10]));
    let logs = cluster.logs();
    assert!(
        !logs.contains("fencing it broker_id=2"),
        "lag, not a lost session, removed it:\n{logs}"
    );
    assert!(logs.contains("proposing an ISR change"));
}

/// KIP-951: a produce or fetch sent to a follower is answered `NOT_LEADER_OR_FOLLOWER`
/// with the partition's leader and its endpoint, so the client goes there at once.
#[test]
fn a_follower_names_the_leader_in_its_produce_and_fetch_refusals() {
    require!(Kcat);
    use brook_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use brook_protocol::messages::{FetchRequest, ProduceRequest};
    use brook_protocol::records::{BatchBuilder, Compression};

    let cluster = spread_cluster(1);
    // Partition 0 is led by broker 1; ask broker 2, which follows it.
    let leader_port: i32 = cluster.broker_address(1).rsplit(':').next().unwrap().parse().unwrap();
    let follower = BlockingConnection::connect(cluster.broker_address(2), "kip-951-test");
    let mut batch = BatchBuilder::new(Compression::None);
    batch.append(0, None, Some(b"misdirected"), &[]);
    let mut records = bytes::BytesMut::new();
    batch.build_into(&mut records).unwrap();
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records.freeze())),
                ]),
        ]);
    let Ok(ResponseKind::Produce(answer)) = follower.call(ApiKey::Produce, 11, RequestKind::Produce(produce)) else {
        panic!("no Produce answer")
    };
    let partition = &answer.responses[0].partition_responses[0];
    assert_eq!(
        partition.error_code,
        brook_protocol::ErrorCode::NotLeaderOrFollower.code()
    );
    assert_eq!(partition.current_leader.leader_id.0, 1, "{answer:?}");
    assert!(partition.current_leader.leader_epoch >= 0, "{answer:?}");
    let endpoints: Vec<(i32, i32)> = answer.node_endpoints.iter().map(|n| (n.node_id.0, n.port)).collect();
    assert_eq!(endpoints, [(1, leader_port)], "{answer:?}");

    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    // v12: topics by name, and flexible, so it carries the current leader (the endpoint
    // list comes with v16, whose encoding `protocol::fetch`'s tests check).
    let Ok(ResponseKind::Fetch(answer)) = follower.call(ApiKey::Fetch, 12, RequestKind::Fetch(fetch)) else {
        panic!("no Fetch answer")
    };
    let partition = &answer.responses[0].partitions[0];
    assert_eq!(
        partition.error_code,
        brook_protocol::ErrorCode::NotLeaderOrFollower.code()
    );
    assert_eq!(partition.current_leader.leader_id.0, 1, "{answer:?}");
}
