use brook_protocol::rpc::metadata::Endpoint;
use brook_protocol::rpc::{ElectLeaders, ElectionType, OffsetCommit, PartitionResult, ReassignPartition};

use super::*;

fn register(state: &mut ControllerState, broker_id: BrokerNodeId) -> i64 {
    let request = RegisterBroker {
        broker_id,
        incarnation_id: Uuid::new_v4(),
        cluster_id: None,
        endpoints: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port: 9092,
        }],
        rack: None,
        log_dirs: vec![],
    };
    match state.apply(&Command::RegisterBroker(request)) {
        CommandResult::BrokerRegistered { broker_epoch } => broker_epoch,
        other => panic!("registration failed: {other:?}"),
    }
}

fn live_broker(state: &mut ControllerState, broker_id: BrokerNodeId) -> i64 {
    let broker_epoch = register(state, broker_id);
    state.apply(&Command::UnfenceBroker {
        broker_id,
        broker_epoch,
    });
    broker_epoch
}

fn create(state: &mut ControllerState, name: &str, assignments: Vec<Vec<BrokerNodeId>>) -> TopicResult {
    let command = Command::CreateTopics(vec![NewTopic {
        name: name.into(),
        topic_id: Uuid::new_v4(),
        assignments,
        configs: BTreeMap::new(),
    }]);
    match state.apply(&command) {
        CommandResult::Topics(mut results) => results.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

fn partition(state: &ControllerState, topic: &str, partition: usize) -> PartitionState {
    state.topic(topic).unwrap().partitions[partition].clone()
}

#[test]
fn the_same_name_is_created_once_whatever_the_order() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    assert_eq!(create(&mut state, "orders", vec![vec![1]]).error_code, 0);
    let second = create(&mut state, "orders", vec![vec![1]]);
    assert_eq!(second.error_code, ErrorCode::TopicAlreadyExists.code());
    assert_eq!(state.image().topics.len(), 1);
}

#[test]
fn brokers_register_fenced_and_lead_only_once_unfenced() {
    let mut state = ControllerState::default();
    let epoch = register(&mut state, 1);
    assert!(state.image().brokers[&1].fenced);
    create(&mut state, "t", vec![vec![1]]);
    assert_eq!(partition(&state, "t", 0).leader, NO_LEADER);
    assert!(partition(&state, "t", 0).isr.is_empty());
    state.apply(&Command::UnfenceBroker {
        broker_id: 1,
        broker_epoch: epoch,
    });
    assert!(!state.image().brokers[&1].fenced);
}

#[test]
fn fencing_a_leader_moves_leadership_to_the_isr_and_bumps_epochs() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    create(&mut state, "t", vec![vec![1, 2], vec![2, 1]]);
    state.apply(&Command::FenceBroker {
        broker_id: 1,
        broker_epoch: epoch1,
    });
    let p0 = partition(&state, "t", 0);
    assert_eq!((p0.leader, p0.isr.clone(), p0.leader_epoch), (2, vec![2], 1));
    let p1 = partition(&state, "t", 1);
    assert_eq!((p1.leader, p1.isr.clone(), p1.leader_epoch), (2, vec![2], 0));
    assert!(state.image().brokers[&1].fenced);
}

#[test]
fn a_stale_fence_does_not_touch_a_newer_registration() {
    let mut state = ControllerState::default();
    let old_epoch = live_broker(&mut state, 1);
    let new_epoch = live_broker(&mut state, 1);
    assert!(new_epoch > old_epoch);
    state.apply(&Command::FenceBroker {
        broker_id: 1,
        broker_epoch: old_epoch,
    });
    assert!(!state.image().brokers[&1].fenced);
}

#[test]
fn a_retried_registration_gets_the_same_epoch() {
    let mut state = ControllerState::default();
    let request = RegisterBroker {
        broker_id: 3,
        incarnation_id: Uuid::new_v4(),
        cluster_id: None,
        endpoints: vec![],
        rack: None,
        log_dirs: vec![],
    };
    let first = state.apply(&Command::RegisterBroker(request.clone()));
    let version = state.version();
    assert_eq!(state.apply(&Command::RegisterBroker(request)), first);
    assert_eq!(state.version(), version, "a retry records nothing");
}

#[test]
fn a_broker_of_another_cluster_is_refused() {
    let mut state = ControllerState::default();
    state.apply(&Command::InitCluster {
        cluster_id: Uuid::new_v4(),
    });
    let result = state.apply(&Command::RegisterBroker(RegisterBroker {
        broker_id: 1,
        incarnation_id: Uuid::new_v4(),
        cluster_id: Some(Uuid::new_v4()),
        endpoints: vec![],
        rack: None,
        log_dirs: vec![],
    }));
    assert!(matches!(
        result,
        CommandResult::Refused(RpcError::Kafka { code: 104, .. })
    ));
}

#[test]
fn isr_changes_are_checked_against_leader_and_partition_epochs() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    let topic_id = create(&mut state, "t", vec![vec![1, 2]]).topic_id.unwrap();
    let request = |new_isr: Vec<BrokerNodeId>, partition_epoch: i32| AlterPartition {
        broker_id: 1,
        broker_epoch: epoch1,
        changes: vec![IsrChange {
            topic_id,
            partition: 0,
            leader_epoch: 0,
            partition_epoch,
            new_isr,
        }],
    };
    let shrink = state.apply(&Command::AlterPartition(request(vec![1], 0)));
    let CommandResult::Partitions(results) = shrink else {
        panic!("{shrink:?}")
    };
    assert_eq!(results[0].error_code, 0);
    assert_eq!(results[0].state.as_ref().unwrap().partition_epoch, 1);
    let stale = state.apply(&Command::AlterPartition(request(vec![1, 2], 0)));
    let CommandResult::Partitions(results) = stale else {
        panic!("{stale:?}")
    };
    assert_eq!(results[0].error_code, ErrorCode::InvalidUpdateVersion.code());
    let without_leader = state.apply(&Command::AlterPartition(request(vec![2], 1)));
    let CommandResult::Partitions(results) = without_leader else {
        panic!("{without_leader:?}")
    };
    assert_eq!(results[0].error_code, ErrorCode::InvalidRequest.code());
}

#[test]
fn offsets_are_committed_for_known_partitions_and_dropped_with_their_topic() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    create(&mut state, "t", vec![vec![1], vec![1]]);
    let commit = |partition, offset| OffsetCommit {
        topic: "t".into(),
        partition,
        offset,
        leader_epoch: -1,
        metadata: Some("m".into()),
        commit_timestamp_ms: 5,
    };
    let result = state.apply(&Command::CommitOffsets(vec![CommitOffsets {
        group_id: "g".into(),
        offsets: vec![commit(0, 10), commit(1, 20), commit(2, 30)],
    }]));
    let CommandResult::Offsets(results) = result else {
        panic!("{result:?}")
    };
    let codes: Vec<i16> = results[0].iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 0, ErrorCode::UnknownTopicOrPartition.code()]);
    let fetched = state.fetch_offsets(&FetchOffsets {
        group_id: "g".into(),
        partitions: vec![],
    });
    assert_eq!(fetched.iter().map(|o| o.offset).collect::<Vec<_>>(), vec![10, 20]);
    state.apply(&Command::DeleteTopics(vec!["t".into()]));
    assert!(state.offsets().group_ids().next().is_none());
}

fn configure(state: &mut ControllerState, request: &AlterConfigs) -> Vec<ResourceResult> {
    let version = state.version();
    let validated = state.validate_alter_configs(request);
    assert_eq!(state.version(), version, "validation records nothing");
    match state.apply(&Command::AlterConfigs(request.clone())) {
        CommandResult::Configs(results) => {
            assert_eq!(results, validated, "validate_only answers what applying answers");
            results
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn configs_are_validated_and_replace_removes_unnamed_keys() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    create(&mut state, "t", vec![vec![1]]);
    let topic = ConfigResource::Topic("t".into());
    let set = |key: &str, value: &str| (key.to_string(), ConfigOp::Set(value.to_string()));
    let request = AlterConfigs {
        changes: vec![(
            topic.clone(),
            vec![set("retention.ms", "1000"), set("segment.ms", "50")],
        )],
        replace: false,
        validate_only: false,
    };
    assert_eq!(configure(&mut state, &request)[0].error_code, 0);
    let bad = AlterConfigs {
        changes: vec![(topic.clone(), vec![set("retention.ms", "soon")])],
        replace: false,
        validate_only: false,
    };
    assert_eq!(
        configure(&mut state, &bad)[0].error_code,
        ErrorCode::InvalidConfig.code()
    );
    let replace = AlterConfigs {
        changes: vec![(topic, vec![set("retention.ms", "2000")])],
        replace: true,
        validate_only: false,
    };
    assert_eq!(configure(&mut state, &replace)[0].error_code, 0);
    let configs = &state.topic("t").unwrap().configs;
    assert_eq!(configs.len(), 1);
    assert_eq!(configs["retention.ms"], "2000");
}

#[test]
fn per_broker_configs_are_set_validated_cleared_and_kept_in_snapshots() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    let broker = ConfigResource::Broker(1);
    let alter = |ops: Vec<(&str, ConfigOp)>, replace: bool| AlterConfigs {
        changes: vec![(
            broker.clone(),
            ops.into_iter().map(|(k, op)| (k.to_string(), op)).collect(),
        )],
        replace,
        validate_only: false,
    };
    let version = state.version();
    let clear = alter(vec![("leader.replication.throttled.rate", ConfigOp::Delete)], false);
    assert_eq!(configure(&mut state, &clear)[0].error_code, 0);
    assert_eq!(state.version(), version, "nothing was set, so nothing changes");

    let set = alter(vec![("log.retention.ms", ConfigOp::Set("1000".into()))], false);
    assert_eq!(configure(&mut state, &set)[0].error_code, 0);
    assert_eq!(state.image().dynamic_setting(1, "log.retention.ms").unwrap(), "1000");
    assert_eq!(
        state.image().dynamic_setting(2, "log.retention.ms"),
        None,
        "broker 1's alone"
    );

    // Refused, naming the key: what the controller applies cluster-wide, what Brook does
    // not apply at all (replication throttles), and bad values.
    for (key, value) in [
        ("num.partitions", "3"),
        ("leader.replication.throttled.rate", "1000"),
        ("log.retention.ms", "soon"),
    ] {
        let refused = &configure(&mut state, &alter(vec![(key, ConfigOp::Set(value.into()))], false))[0];
        assert_eq!(refused.error_code, ErrorCode::InvalidRequest.code(), "{key}, as Kafka");
        assert!(refused.error_message.as_deref().unwrap().contains(key), "{refused:?}");
    }

    let mut restored = ControllerState::default();
    restored.restore_snapshot(&state.encode_snapshot().unwrap()).unwrap();
    assert_eq!(restored.image(), state.image());

    // AlterConfigs (replace) with no keys clears the broker's settings.
    assert_eq!(configure(&mut state, &alter(vec![], true))[0].error_code, 0);
    assert!(state.image().broker_configs.is_empty());
}

#[test]
fn watchers_get_the_records_they_missed_or_the_image_when_too_far_behind() {
    let mut state = ControllerState::new(3);
    live_broker(&mut state, 1); // two records
    create(&mut state, "a", vec![vec![1]]);
    create(&mut state, "b", vec![vec![1]]);
    assert_eq!(state.version(), 4);
    let since_2: Vec<u64> = state.records_since(2).unwrap().iter().map(|r| r.version).collect();
    assert_eq!(since_2, vec![3, 4]);
    assert_eq!(state.records_since(4).unwrap(), vec![]);
    assert!(state.records_since(0).is_none(), "version 1 has left the history");
    // Replaying the records onto an image gives the controller's image.
    let mut follower = MetadataImage::default();
    let mut from_start = ControllerState::new(100);
    live_broker(&mut from_start, 1);
    create(&mut from_start, "a", vec![vec![1]]);
    for record in from_start.records_since(0).unwrap() {
        follower.apply(&record);
    }
    assert_eq!(&follower, from_start.image());
}

#[test]
fn snapshots_round_trip_the_image_offsets_and_name_index() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    create(&mut state, "t", vec![vec![1]]);
    state.apply(&Command::CommitOffsets(vec![CommitOffsets {
        group_id: "g".into(),
        offsets: vec![OffsetCommit {
            topic: "t".into(),
            partition: 0,
            offset: 7,
            leader_epoch: 0,
            metadata: None,
            commit_timestamp_ms: 1,
        }],
    }]));
    let bytes = state.encode_snapshot().unwrap();
    let mut restored = ControllerState::default();
    restored.restore_snapshot(&bytes).unwrap();
    assert_eq!(restored.image(), state.image());
    assert_eq!(restored.offsets(), state.offsets());
    assert!(restored.topic("t").is_some());
    assert_eq!(create(&mut restored, "t", vec![vec![1]]).error_code, 36);
}

fn allocate(state: &mut ControllerState, broker_id: BrokerNodeId, broker_epoch: i64) -> CommandResult {
    state.apply(&Command::AllocateProducerIds {
        broker_id,
        broker_epoch,
    })
}

#[test]
fn producer_id_blocks_never_overlap_and_survive_a_snapshot() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    let epoch2 = live_broker(&mut state, 2);
    let first = allocate(&mut state, 1, epoch1);
    let second = allocate(&mut state, 2, epoch2);
    let block = |result| match result {
        CommandResult::ProducerIds(block) => block,
        other => panic!("not a block: {other:?}"),
    };
    let (first, second) = (block(first), block(second));
    assert_eq!((first.first_id, first.count), (0, PRODUCER_ID_BLOCK));
    assert_eq!(second.first_id, first.first_id + i64::from(first.count));

    let mut restored = ControllerState::default();
    restored.restore_snapshot(&state.encode_snapshot().unwrap()).unwrap();
    let third = block(allocate(&mut restored, 1, epoch1));
    assert_eq!(third.first_id, second.first_id + i64::from(second.count));
}

#[test]
fn a_stale_broker_epoch_gets_no_producer_ids() {
    let mut state = ControllerState::default();
    let epoch = live_broker(&mut state, 1);
    match allocate(&mut state, 1, epoch - 1) {
        CommandResult::Refused(RpcError::Kafka { code, .. }) => assert_eq!(code, ErrorCode::StaleBrokerEpoch.code()),
        other => panic!("not refused: {other:?}"),
    }
    assert!(
        matches!(allocate(&mut state, 7, epoch), CommandResult::Refused(_)),
        "unknown broker"
    );
}

#[test]
fn a_snapshot_from_before_producer_ids_reads_as_none_handed_out() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    let old_layout = postcard::to_stdvec(&snapshot::SnapshotRef {
        image: snapshot::ImageHeadRef::of(&state.image),
        offsets: &state.offsets,
    })
    .unwrap();
    let mut restored = ControllerState::default();
    restored.restore_snapshot(&old_layout).unwrap();
    assert_eq!(restored.next_producer_id, 0);
    assert_eq!(restored.image().brokers.len(), 1);
}

#[test]
fn a_topic_with_unclean_election_takes_back_a_replica_outside_the_isr() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    let epoch2 = live_broker(&mut state, 2);
    for (name, unclean) in [("clean", "false"), ("unclean", "true")] {
        let command = Command::CreateTopics(vec![NewTopic {
            name: name.into(),
            topic_id: Uuid::new_v4(),
            assignments: vec![vec![1, 2]],
            configs: BTreeMap::from([("unclean.leader.election.enable".to_string(), unclean.to_string())]),
        }]);
        state.apply(&command);
    }
    // The follower goes first (it leaves the ISR), then the leader.
    state.apply(&Command::FenceBroker {
        broker_id: 2,
        broker_epoch: epoch2,
    });
    state.apply(&Command::FenceBroker {
        broker_id: 1,
        broker_epoch: epoch1,
    });
    for topic in ["clean", "unclean"] {
        assert_eq!(partition(&state, topic, 0).leader, NO_LEADER, "{topic}: nobody live");
    }
    state.apply(&Command::UnfenceBroker {
        broker_id: 2,
        broker_epoch: epoch2,
    });
    assert_eq!(partition(&state, "clean", 0).leader, NO_LEADER, "2 was not in sync");
    let unclean = partition(&state, "unclean", 0);
    assert_eq!((unclean.leader, unclean.isr), (2, vec![2]));
}

fn reassign(state: &mut ControllerState, topic: &str, target: Option<Vec<BrokerNodeId>>) -> PartitionResult {
    let command = Command::Reassign(vec![ReassignPartition {
        topic: topic.into(),
        partition: 0,
        target,
    }]);
    match state.apply(&command) {
        CommandResult::PartitionResults(mut results) => results.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

fn set_isr(
    state: &mut ControllerState,
    topic: &str,
    leader_epoch_of: (BrokerNodeId, i64),
    isr: Vec<BrokerNodeId>,
) -> i16 {
    let current = partition(state, topic, 0);
    let request = AlterPartition {
        broker_id: leader_epoch_of.0,
        broker_epoch: leader_epoch_of.1,
        changes: vec![IsrChange {
            topic_id: state.topic(topic).unwrap().topic_id,
            partition: 0,
            leader_epoch: current.leader_epoch,
            partition_epoch: current.partition_epoch,
            new_isr: isr,
        }],
    };
    match state.apply(&Command::AlterPartition(request)) {
        CommandResult::Partitions(results) => results[0].error_code,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_reassignment_adds_the_target_then_drops_the_old_replicas_once_it_is_in_sync() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    live_broker(&mut state, 3);
    create(&mut state, "t", vec![vec![1, 2]]);
    assert_eq!(reassign(&mut state, "t", Some(vec![3, 2])).error_code, 0);
    let meanwhile = partition(&state, "t", 0);
    assert_eq!(
        (meanwhile.replicas, meanwhile.isr, meanwhile.leader),
        (vec![3, 2, 1], vec![1, 2], 1)
    );
    let listed = state.ongoing_reassignments(None);
    assert_eq!(
        (listed[0].adding.clone(), listed[0].removing.clone()),
        (vec![3], vec![1])
    );

    // Survives a snapshot.
    let mut restored = ControllerState::default();
    restored.restore_snapshot(&state.encode_snapshot().unwrap()).unwrap();
    assert_eq!(restored.ongoing_reassignments(None), listed);

    // The leader adds 3 to the ISR: the move completes and 1 hands leadership to 3.
    assert_eq!(set_isr(&mut state, "t", (1, epoch1), vec![1, 2, 3]), 0);
    let done = partition(&state, "t", 0);
    assert_eq!((done.replicas, done.isr, done.leader), (vec![3, 2], vec![2, 3], 3));
    assert!(state.ongoing_reassignments(None).is_empty());
    assert_eq!(
        reassign(&mut state, "t", None).error_code,
        ErrorCode::NoReassignmentInProgress.code()
    );
}

#[test]
fn a_cancelled_reassignment_goes_back_to_the_original_replicas() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    create(&mut state, "t", vec![vec![1]]);
    reassign(&mut state, "t", Some(vec![2]));
    assert_eq!(partition(&state, "t", 0).replicas, vec![2, 1]);
    assert_eq!(reassign(&mut state, "t", None).error_code, 0);
    let back = partition(&state, "t", 0);
    assert_eq!((back.replicas, back.isr, back.leader), (vec![1], vec![1], 1));
    assert!(state.ongoing_reassignments(None).is_empty());
}

#[test]
fn reassignments_are_validated_and_a_reorder_completes_at_once() {
    let mut state = ControllerState::default();
    live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    create(&mut state, "t", vec![vec![1, 2]]);
    let invalid = ErrorCode::InvalidReplicaAssignment.code();
    assert_eq!(reassign(&mut state, "t", Some(vec![])).error_code, invalid);
    assert_eq!(reassign(&mut state, "t", Some(vec![2, 2])).error_code, invalid);
    assert_eq!(reassign(&mut state, "t", Some(vec![9])).error_code, invalid);
    assert_eq!(
        reassign(&mut state, "nope", Some(vec![1])).error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert_eq!(reassign(&mut state, "t", Some(vec![2, 1])).error_code, 0);
    let reordered = partition(&state, "t", 0);
    assert_eq!((reordered.replicas, reordered.leader), (vec![2, 1], 1));
    assert!(state.ongoing_reassignments(None).is_empty());
}

#[test]
fn preferred_election_over_every_partition_reports_only_those_it_touched() {
    let mut state = ControllerState::default();
    let epoch1 = live_broker(&mut state, 1);
    live_broker(&mut state, 2);
    create(&mut state, "t", vec![vec![1, 2], vec![2, 1]]);
    state.apply(&Command::FenceBroker {
        broker_id: 1,
        broker_epoch: epoch1,
    });
    live_broker(&mut state, 1);
    // 1 is back but outside both ISRs: the preferred replica is not available yet.
    let elect = |state: &mut ControllerState| match state.apply(&Command::ElectLeaders(ElectLeaders {
        election_type: ElectionType::Preferred,
        partitions: None,
    })) {
        CommandResult::PartitionResults(results) => results,
        other => panic!("unexpected {other:?}"),
    };
    let results = elect(&mut state);
    assert_eq!(
        results.len(),
        1,
        "partition 1 already has its preferred leader: {results:?}"
    );
    assert_eq!(results[0].error_code, ErrorCode::PreferredLeaderNotAvailable.code());
    let topic_id = state.topic("t").unwrap().topic_id;
    let p0 = partition(&state, "t", 0);
    let epoch2 = state.image().brokers[&2].broker_epoch;
    state.apply(&Command::AlterPartition(AlterPartition {
        broker_id: 2,
        broker_epoch: epoch2,
        changes: vec![IsrChange {
            topic_id,
            partition: 0,
            leader_epoch: p0.leader_epoch,
            partition_epoch: p0.partition_epoch,
            new_isr: vec![2, 1],
        }],
    }));
    let results = elect(&mut state);
    assert_eq!((results.len(), results[0].error_code), (1, 0));
    let p0 = partition(&state, "t", 0);
    assert_eq!((p0.leader, p0.leader_epoch), (1, 2));
    assert!(elect(&mut state).is_empty());
}
