//! Controller quorums in one process: topics, offsets, leader loss, catch-up through a
//! snapshot, fencing, redirects and linearizable topic creation.

mod common;

use std::sync::Arc;
use std::time::Duration;

use std::io::{Read, Write};

use brook_controller_client::{BrokerSession, BrokerSessionConfig, ClientOptions, ControllerClient};
use brook_protocol::ErrorCode;
use brook_protocol::rpc::{
    CommitOffsets, ControllerRequest, CreatableTopic, CreateTopics, FetchOffsets, OffsetCommit, RpcError,
};
use brook_protocol::rpc::{ControllerAddress, RPC_VERSION, RpcRequest, RpcResponse};
use common::silent_proxy::SilentProxy;
use common::{Quorum, SESSION_TIMEOUT_MS, eventually};

fn topic(name: &str, partitions: i32, replication_factor: i16) -> CreateTopics {
    CreateTopics {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor,
            assignments: vec![],
            configs: vec![("retention.ms".into(), "60000".into())],
        }],
        validate_only: false,
    }
}

fn commit(group: &str, topic: &str, partition: i32, offset: i64) -> CommitOffsets {
    CommitOffsets {
        group_id: group.into(),
        offsets: vec![OffsetCommit {
            topic: topic.into(),
            partition,
            offset,
            leader_epoch: 0,
            metadata: None,
            commit_timestamp_ms: 1,
        }],
    }
}

/// One request over a plain socket, no client logic.
fn raw_call(to: &ControllerAddress, body: ControllerRequest) -> RpcResponse {
    let mut stream = std::net::TcpStream::connect((to.host.as_str(), to.port)).unwrap();
    let mut frame = bytes::BytesMut::new();
    let request = RpcRequest {
        rpc_version: RPC_VERSION,
        correlation_id: 1,
        body,
    };
    brook_protocol::rpc::encode_frame(&mut frame, &request).unwrap();
    stream.write_all(&frame).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).unwrap();
    brook_protocol::rpc::decode(&bytes::Bytes::from(body)).unwrap()
}

fn fetch(group: &str) -> Vec<FetchOffsets> {
    vec![FetchOffsets {
        group_id: group.into(),
        partitions: vec![],
    }]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_change_is_answered_with_the_metadata_version_that_carries_it() {
    let quorum = Quorum::start(1, 1000).await;
    let broker = quorum.broker(1).await;
    let client = quorum.client();
    let reached = |version: u64| {
        let cache = broker.cache().clone();
        async move {
            tokio::time::timeout(Duration::from_secs(10), cache.wait_for_version(version))
                .await
                .expect("the broker's cache reaches the answered version");
            cache.image()
        }
    };
    let created = client.create_topics(topic("versioned", 2, 1)).await.unwrap();
    assert_eq!(created.results[0].error_code, 0, "{created:?}");
    assert!(
        reached(created.metadata_version)
            .await
            .topic_by_name("versioned")
            .is_some()
    );
    let deleted = client.delete_topics(vec!["versioned".into()]).await.unwrap();
    assert!(deleted.metadata_version > created.metadata_version);
    assert!(
        reached(deleted.metadata_version)
            .await
            .topic_by_name("versioned")
            .is_none()
    );
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_voter_quorum_serves_topics_and_offsets_and_survives_a_restart() {
    let mut quorum = Quorum::start(1, 1000).await;
    let _broker = quorum.broker(1).await;
    let client = quorum.client();
    let created = client.create_topics(topic("orders", 3, 1)).await.unwrap().results;
    assert_eq!(created[0].error_code, 0, "{created:?}");
    let committed = client.commit_offsets(vec![commit("g", "orders", 2, 42)]).await.unwrap();
    assert_eq!(committed[0][0].error_code, 0);

    quorum.stop(1).await;
    quorum.restart(1).await;
    quorum.leader().await;
    let image = quorum.node(1).metadata();
    let orders = image.topic_by_name("orders").expect("topic survived the restart");
    assert_eq!(orders.partitions.len(), 3);
    assert_eq!(orders.configs["retention.ms"], "60000");
    let offsets = client.fetch_offsets(fetch("g")).await.unwrap();
    assert_eq!(offsets[0][0].offset, 42);
    assert_eq!(client.list_offset_groups().await.unwrap(), vec!["g".to_owned()]);
    client.delete_offsets(fetch("g")).await.unwrap();
    assert!(
        client.list_offset_groups().await.unwrap().is_empty(),
        "the whole group is gone"
    );
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_metadata_survives_the_leader_and_a_lagging_node_catches_up_from_a_snapshot() {
    let mut quorum = Quorum::start(3, 20).await;
    let _broker = quorum.broker(1).await;
    let client = quorum.client();
    for i in 0..5 {
        let result = client
            .create_topics(topic(&format!("before-{i}"), 2, 1))
            .await
            .unwrap()
            .results;
        assert_eq!(result[0].error_code, 0);
    }
    client
        .commit_offsets(vec![commit("g", "before-0", 1, 7)])
        .await
        .unwrap();

    let old_leader = quorum.leader().await;
    let old_last_index = quorum.node(old_leader).status().last_log_index;
    quorum.stop(old_leader).await;
    let new_leader = quorum.leader().await;
    assert_ne!(new_leader, old_leader);
    let image = quorum.node(new_leader).metadata();
    for i in 0..5 {
        assert!(image.topic_by_name(&format!("before-{i}")).is_some(), "before-{i} lost");
    }
    assert_eq!(client.fetch_offsets(fetch("g")).await.unwrap()[0][0].offset, 7);

    // Enough writes while the old leader is down that its missing entries are compacted.
    for i in 0..60 {
        client
            .commit_offsets(vec![commit("g", "before-0", 0, i)])
            .await
            .unwrap();
    }
    client.create_topics(topic("after", 1, 1)).await.unwrap();
    for node in quorum.nodes.iter().flatten() {
        node.trigger_snapshot().await.unwrap();
    }
    eventually(Duration::from_secs(10), || async {
        let status = quorum.node(new_leader).status();
        (status.purged_index > old_last_index).then_some(())
    })
    .await;

    quorum.restart(old_leader).await;
    let leader_image = quorum.node(new_leader).metadata();
    eventually(Duration::from_secs(15), || async {
        let caught_up = quorum.node(old_leader).metadata();
        (caught_up.version >= leader_image.version).then_some(())
    })
    .await;
    // The entries it missed were purged from every log: only a snapshot could bring it here.
    let restarted = quorum.node(old_leader);
    assert!(restarted.metadata().topic_by_name("after").is_some());
    assert_eq!(restarted.metadata().topics, leader_image.topics);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stops_heartbeating_is_fenced_and_its_partitions_move() {
    let quorum = Quorum::start(3, 1000).await;
    let first = quorum.broker(1).await;
    let second = quorum.broker(2).await;
    let client = quorum.client();
    let created = client.create_topics(topic("moving", 4, 2)).await.unwrap().results;
    assert_eq!(created[0].error_code, 0);
    let led_by_1 = |image: &brook_protocol::rpc::metadata::MetadataImage| {
        let topic = image.topic_by_name("moving")?;
        Some(topic.partitions.iter().filter(|p| p.leader == 1).count())
    };
    eventually(Duration::from_secs(5), || async {
        (led_by_1(&second.cache().image()) == Some(2)).then_some(())
    })
    .await;

    let stopped = std::time::Instant::now();
    drop(first); // heartbeats stop, like a crashed broker
    eventually(Duration::from_millis(SESSION_TIMEOUT_MS + 3_000), || async {
        let image = second.cache().image();
        let moved = led_by_1(&image) == Some(0) && image.brokers[&1].fenced;
        moved.then_some(())
    })
    .await;
    let image = second.cache().image();
    for partition in &image.topic_by_name("moving").unwrap().partitions {
        assert_eq!(partition.leader, 2);
        assert_eq!(partition.isr, vec![2]);
    }
    eprintln!("partitions moved {:?} after the heartbeats stopped", stopped.elapsed());
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_have_exactly_one_winner() {
    let quorum = Quorum::start(3, 1000).await;
    let _broker = quorum.broker(1).await;
    for round in 0..5 {
        let name = format!("contended-{round}");
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let client = quorum.client();
                let request = topic(&name, 1, 1);
                tokio::spawn(async move { client.create_topics(request).await.unwrap().results.remove(0) })
            })
            .collect();
        let mut codes = Vec::new();
        for attempt in attempts {
            codes.push(attempt.await.unwrap().error_code);
        }
        let winners = codes.iter().filter(|c| **c == 0).count();
        let losers = codes
            .iter()
            .filter(|c| **c == ErrorCode::TopicAlreadyExists.code())
            .count();
        assert_eq!((winners, losers), (1, 7), "round {round}: {codes:?}");
    }
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_redirects_to_the_leader_and_the_client_follows() {
    let quorum = Quorum::start(3, 1000).await;
    let leader = quorum.leader().await;
    let follower = quorum.voters.iter().find(|v| v.node_id != leader).unwrap().clone();

    let only_follower = ControllerClient::new(vec![follower.clone()], ClientOptions::default());
    let info = only_follower.describe_quorum().await.unwrap();
    assert_eq!(info.leader, Some(leader));
    // The leader's view of every voter: when it last answered and was last caught up
    // (the followers within a few heartbeats, the leader now), in wall-clock ms.
    let started = std::time::Instant::now();
    loop {
        let info = only_follower.describe_quorum().await.unwrap();
        let times: Vec<(Option<i64>, Option<i64>)> = info
            .voters
            .iter()
            .map(|v| (v.last_fetch_ms, v.last_caught_up_ms))
            .collect();
        if times.iter().all(|(f, c)| f.is_some() && c.is_some()) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            for (fetch, caught_up) in times {
                let (fetch, caught_up) = (fetch.unwrap(), caught_up.unwrap());
                assert!(
                    now - 10_000 <= caught_up && caught_up <= fetch && fetch <= now + 1_000,
                    "{info:?}"
                );
            }
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no answer times: {info:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A raw request to the follower is refused with the leader's address.
    let leader_address = quorum.voters.iter().find(|v| v.node_id == leader).cloned();
    let answer = raw_call(&follower, ControllerRequest::CreateTopics(topic("x", 1, 1)));
    assert_eq!(answer.body, Err(RpcError::NotController { leader: leader_address }));
    // Through a follower, the client still reaches the leader for writes.
    let _broker = quorum.broker(1).await;
    let created = only_follower
        .create_topics(topic("via-follower", 1, 1))
        .await
        .unwrap()
        .results;
    assert_eq!(created[0].error_code, 0);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_controller_port_closes_that_connection_and_nothing_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let quorum = Quorum::start(1, 1000).await;
    let client = quorum.client();
    client.describe_quorum().await.unwrap(); // one healthy connection stays open throughout
    let address = (quorum.voters[0].host.clone(), quorum.voters[0].port);
    let mut random = vec![0u8; 4096];
    let mut seed = 0x9e37_79b9_u32;
    for byte in random.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        *byte = seed as u8;
    }
    let garbage_body = [&12u32.to_be_bytes()[..], &[0xff; 12]].concat();
    let truncated = [&100u32.to_be_bytes()[..], &[1, 2, 3]].concat();
    let huge = 0x7fff_ffffu32.to_be_bytes().to_vec();
    for (what, payload, close_write) in [
        ("random bytes", random, false),
        ("a 2 GiB size prefix", huge, false),
        ("a valid size with a garbage body", garbage_body, false),
        ("a truncated frame", truncated, true),
    ] {
        let mut stream = tokio::net::TcpStream::connect(address.clone()).await.unwrap();
        stream.write_all(&payload).await.unwrap();
        if close_write {
            stream.shutdown().await.unwrap();
        }
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "{what}: the connection stayed open"
        );
    }
    let info = client.describe_quorum().await.unwrap();
    assert_eq!(info.leader, Some(1));
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_validate_place_and_apply() {
    use brook_protocol::rpc::{AlterConfigs, ConfigOp, ConfigResource, CreatePartitions, NewPartitions};

    let quorum = Quorum::start(1, 1000).await;
    let _brokers = [quorum.broker(1).await, quorum.broker(2).await, quorum.broker(3).await];
    let client = quorum.client();
    let code = |results: Vec<brook_protocol::rpc::TopicResult>| results[0].error_code;

    let mut dry_run = topic("dry", 3, 3);
    dry_run.validate_only = true;
    assert_eq!(code(client.create_topics(dry_run).await.unwrap().results), 0);
    assert_eq!(
        code(client.create_topics(topic("bad name", 1, 1)).await.unwrap().results),
        17
    );
    assert_eq!(
        code(client.create_topics(topic("wide", 1, 4)).await.unwrap().results),
        38
    );
    assert_eq!(code(client.create_topics(topic("t", 6, 3)).await.unwrap().results), 0);

    let grow = |total_count, validate_only| CreatePartitions {
        topics: vec![NewPartitions {
            name: "t".into(),
            total_count,
            assignments: vec![],
        }],
        validate_only,
    };
    assert_eq!(
        code(client.create_partitions(grow(4, false)).await.unwrap().results),
        37
    );
    assert_eq!(code(client.create_partitions(grow(9, true)).await.unwrap().results), 0);
    assert_eq!(code(client.create_partitions(grow(9, false)).await.unwrap().results), 0);

    let set = |key: &str, value: &str| AlterConfigs {
        changes: vec![(
            ConfigResource::Topic("t".into()),
            vec![(key.into(), ConfigOp::Set(value.into()))],
        )],
        replace: false,
        validate_only: false,
    };
    assert_eq!(
        client
            .alter_configs(set("cleanup.policy", "compact"))
            .await
            .unwrap()
            .results[0]
            .error_code,
        0
    );
    assert_eq!(
        client
            .alter_configs(set("cleanup.policy", "shred"))
            .await
            .unwrap()
            .results[0]
            .error_code,
        40
    );

    let image = quorum.node(1).metadata();
    let t = image.topic_by_name("t").unwrap();
    assert_eq!(t.partitions.len(), 9);
    assert_eq!(t.configs["cleanup.policy"], "compact");
    assert!(image.topic_by_name("dry").is_none(), "validate_only created a topic");
    let mut leaders = [0; 3];
    for partition in &t.partitions {
        assert_eq!(partition.replicas.len(), 3);
        assert_eq!(partition.isr.len(), 3);
        leaders[(partition.leader - 1) as usize] += 1;
    }
    assert_eq!(leaders, [3, 3, 3], "leaders are spread evenly");

    assert_eq!(code(client.delete_topics(vec!["t".into()]).await.unwrap().results), 0);
    assert_eq!(code(client.delete_topics(vec!["t".into()]).await.unwrap().results), 3);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_process_with_the_same_broker_id_waits_for_the_first_session_to_expire() {
    use brook_protocol::rpc::RegisterBroker;

    let quorum = Quorum::start(1, 1000).await;
    let first = quorum.broker(7).await;
    let client = quorum.client();
    let impostor = |incarnation_id| {
        ControllerRequest::RegisterBroker(RegisterBroker {
            broker_id: 7,
            incarnation_id,
            cluster_id: None,
            endpoints: vec![],
            rack: None,
            log_dirs: vec![],
        })
    };
    let refused = client.call(impostor(uuid::Uuid::new_v4())).await.unwrap_err();
    assert_eq!(
        refused.kafka_code(),
        Some(ErrorCode::DuplicateBrokerRegistration.code())
    );
    assert!(!first.is_fenced());

    drop(first); // the first process dies; its session expires
    let second = quorum.broker(7).await;
    assert!(second.broker_epoch() > 0);
    quorum.shutdown().await;
}

/// Leadership that piled up on the survivors of a failure goes back to each partition's
/// preferred replica once that broker is back and in sync (`auto.leader.rebalance.enable`,
/// checked every `leader.imbalance.check.interval.seconds`, 1 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_returns_to_preferred_replicas_after_a_broker_comes_back() {
    use brook_protocol::rpc::{AlterPartition, IsrChange};

    let quorum = Quorum::start(1, 1000).await;
    let mut sessions: Vec<Option<BrokerSession>> = Vec::new();
    for id in 1..=3 {
        sessions.push(Some(quorum.broker(id).await));
    }
    let client = quorum.client();
    assert_eq!(
        client.create_topics(topic("balanced", 6, 3)).await.unwrap().results[0].error_code,
        0
    );
    let leaders_of = |id: i32| {
        let image = quorum.node(1).metadata();
        let topic = image.topic_by_name("balanced").cloned().unwrap();
        topic.partitions.iter().filter(|p| p.leader == id).count()
    };
    assert_eq!(leaders_of(1), 2, "placement spreads the preferred leaders");

    // Broker 1 dies: its partitions move to 2 and 3, and it leaves every ISR.
    sessions[0] = None;
    eventually(Duration::from_millis(SESSION_TIMEOUT_MS + 5_000), || async {
        (leaders_of(1) == 0).then_some(())
    })
    .await;
    // It comes back, and the leaders take it back into their ISRs (as their followers'
    // fetches would make them do).
    sessions[0] = Some(quorum.broker(1).await);
    let image = quorum.node(1).metadata();
    let topic = image.topic_by_name("balanced").cloned().unwrap();
    for leader in [2, 3] {
        let session = sessions[(leader - 1) as usize].as_ref().unwrap();
        let changes: Vec<IsrChange> = topic
            .partitions
            .iter()
            .filter(|p| p.leader == leader)
            .map(|p| IsrChange {
                topic_id: topic.topic_id,
                partition: p.partition,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                new_isr: vec![1, 2, 3],
            })
            .collect();
        let request = AlterPartition {
            broker_id: leader,
            broker_epoch: session.broker_epoch(),
            changes,
        };
        let results = client.alter_partition(request).await.unwrap();
        assert!(results.iter().all(|r| r.error_code == 0), "{results:?}");
    }
    let back = std::time::Instant::now();
    eventually(Duration::from_secs(10), || async { (leaders_of(1) == 2).then_some(()) }).await;
    eprintln!(
        "leadership back on broker 1 {:?} after it rejoined the ISRs",
        back.elapsed()
    );
    let image = quorum.node(1).metadata();
    for p in &image.topic_by_name("balanced").unwrap().partitions {
        assert_eq!(
            p.leader, p.replicas[0],
            "partition {} led by its preferred replica",
            p.partition
        );
    }
    drop(sessions);
    quorum.shutdown().await;
}

/// A process that shows the log directories of a registration still within its session
/// holds their lock, so the registered process is dead (kill -9 and restart): it takes
/// over at once, and the dead incarnation's epoch is refused from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_log_directories_replaces_the_old_registration_at_once() {
    let quorum = Quorum::start(1, 1000).await;
    let dirs = vec![uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let config = BrokerSessionConfig {
        heartbeat_interval: Duration::from_millis(200),
        log_dirs: dirs.clone(),
        ..BrokerSessionConfig::new(8, "127.0.0.1", 9092)
    };
    let first = BrokerSession::start(quorum.client(), config.clone()).await.unwrap();
    first.wait_unfenced().await;
    let old_epoch = first.broker_epoch();
    // The old process "dies" without a word: its lease is still running.
    drop(first);

    let restarted = std::time::Instant::now();
    let second = BrokerSession::start(quorum.client(), config).await.unwrap();
    second.wait_unfenced().await;
    let took = restarted.elapsed();
    assert!(second.broker_epoch() > old_epoch);
    assert!(
        took < Duration::from_millis(SESSION_TIMEOUT_MS),
        "waited {took:?}, as if for the old session"
    );
    let stale = quorum
        .client()
        .call(ControllerRequest::BrokerHeartbeat(
            brook_protocol::rpc::BrokerHeartbeat {
                broker_id: 8,
                broker_epoch: old_epoch,
                metadata_version: 0,
                want_shut_down: false,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.kafka_code(), Some(ErrorCode::StaleBrokerEpoch.code()));

    // Other directories prove nothing: that newcomer waits (refused while the lease runs).
    let impostor = ControllerRequest::RegisterBroker(brook_protocol::rpc::RegisterBroker {
        broker_id: 8,
        incarnation_id: uuid::Uuid::new_v4(),
        cluster_id: None,
        endpoints: vec![],
        rack: None,
        log_dirs: vec![uuid::Uuid::new_v4()],
    });
    let refused = quorum.client().call(impostor).await.unwrap_err();
    assert_eq!(
        refused.kafka_code(),
        Some(ErrorCode::DuplicateBrokerRegistration.code())
    );
    drop(second);
    quorum.shutdown().await;
}

/// A controller connection that goes silent (the controller cut off by the network: no
/// reset, no answers) must not hold the broker's heartbeats: each attempt has a deadline,
/// the connection is given up, and the session carries on through another address before
/// its lease runs out. The metadata watch on the dead connection ends with it and resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_controller_connection_never_starves_heartbeats_or_the_metadata_watch() {
    let quorum = Quorum::start(1, 1000).await;
    let direct = quorum.voters[0].clone();
    let proxy = SilentProxy::start(format!("{}:{}", direct.host, direct.port)).await;
    // The same controller twice: through the proxy (tried first) and directly.
    let through_proxy = ControllerAddress {
        port: proxy.port,
        ..direct.clone()
    };
    let options = ClientOptions {
        attempt_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let client = Arc::new(ControllerClient::new(vec![direct, through_proxy], options));
    let config = BrokerSessionConfig {
        heartbeat_interval: Duration::from_millis(300),
        ..BrokerSessionConfig::new(1, "127.0.0.1", 9092)
    };
    let session = BrokerSession::start(Arc::clone(&client), config).await.unwrap();
    eventually(Duration::from_secs(10), || async {
        (!session.is_fenced()).then_some(())
    })
    .await;
    assert_eq!(proxy.connections(), 1, "the session runs through the proxy");

    proxy.go_silent();
    let silenced = std::time::Instant::now();
    let admin = quorum.client();
    let created = admin.create_topics(topic("after-silence", 1, 1)).await.unwrap().results;
    assert_eq!(created[0].error_code, 0);
    eventually(Duration::from_secs(10), || async {
        session.cache().image().topic_by_name("after-silence").map(|_| ())
    })
    .await;
    eprintln!(
        "metadata resumed {:?} after the connection went silent",
        silenced.elapsed()
    );
    // Three lease lengths later the broker was never fenced.
    let until = std::time::Instant::now() + Duration::from_millis(3 * SESSION_TIMEOUT_MS);
    while std::time::Instant::now() < until {
        let image = quorum.node(1).metadata();
        assert!(!image.brokers[&1].fenced, "fenced while heart-beating");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(session);
    quorum.shutdown().await;
}

/// A broker whose only path to the controller goes silent knows, once its session
/// timeout (and a tenth, for the fence to be committed) has passed since its last
/// acknowledged heartbeat was sent, that it has likely been fenced: its lease lapses (and
/// the broker stops leading) without a word from the controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_cannot_hear_the_controller_knows_when_its_lease_lapses() {
    let quorum = Quorum::start(1, 1000).await;
    let direct = quorum.voters[0].clone();
    let proxy = SilentProxy::start(format!("{}:{}", direct.host, direct.port)).await;
    let only_path = ControllerAddress {
        port: proxy.port,
        ..direct
    };
    let client = Arc::new(ControllerClient::new(vec![only_path], ClientOptions::default()));
    let config = BrokerSessionConfig {
        heartbeat_interval: Duration::from_millis(200),
        ..BrokerSessionConfig::new(9, "127.0.0.1", 9092)
    };
    let session = BrokerSession::start(client, config).await.unwrap();
    session.wait_unfenced().await;
    let mut lapsed = session.lease_lapsed();
    assert!(!*lapsed.borrow(), "heart-beating: the lease runs");
    proxy.go_silent();
    let silenced = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), lapsed.wait_for(|l| *l))
        .await
        .expect("the lease lapses")
        .unwrap();
    let took = silenced.elapsed();
    let session_timeout = Duration::from_millis(SESSION_TIMEOUT_MS);
    assert!(
        took <= session_timeout + session_timeout / 10 + Duration::from_millis(100),
        "lapsed after {took:?}, long after the controller could fence"
    );
    assert!(
        took >= session_timeout - Duration::from_millis(200),
        "lapsed after {took:?}, before the controller could have fenced (heartbeats every 200 ms)"
    );
    eprintln!("lease lapsed {took:?} after the controller went silent");
    drop(session);
    quorum.shutdown().await;
}
