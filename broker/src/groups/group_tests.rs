use super::*;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);

fn request(member_id: &str, protocols: &[&str]) -> JoinRequest {
    request_with_session(member_id, protocols, SESSION)
}

fn request_with_session(member_id: &str, protocols: &[&str], session_timeout: Duration) -> JoinRequest {
    JoinRequest {
        member_id: member_id.into(),
        instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(p.to_string())))
            .collect(),
        require_known_member_id: true,
    }
}

fn now_reply<T>(reply: Reply<T>) -> T {
    match reply {
        Reply::Now(value) => value,
        Reply::Later(_) => panic!("expected an answer now"),
    }
}

fn later<T>(reply: Reply<T>) -> oneshot::Receiver<T> {
    match reply {
        Reply::Later(receiver) => receiver,
        Reply::Now(_) => panic!("expected to wait"),
    }
}

/// Joins with the KIP-394 two-step: first MEMBER_ID_REQUIRED, then with the id.
fn join_new(group: &mut Group, protocols: &[&str], now: Instant) -> (String, oneshot::Receiver<JoinOutcome>) {
    let first = now_reply(group.join(request("", protocols), now));
    assert_eq!(first.error, Some(ErrorCode::MemberIdRequired));
    let id = first.member_id;
    let receiver = later(group.join(request(&id, protocols), now));
    (id, receiver)
}

#[test]
fn a_second_member_triggers_a_rebalance_that_completes_when_everyone_rejoins() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let (a, mut a_join) = join_new(&mut group, &["range"], t);
    let joined = a_join.try_recv().expect("a lone member completes at once");
    assert_eq!((joined.generation, joined.leader.as_str()), (1, a.as_str()));
    assert_eq!(joined.members.len(), 1);
    let synced = now_reply(group.sync(&a, 1, vec![(a.clone(), Bytes::from_static(b"all"))], t));
    assert_eq!((synced.error, &synced.assignment[..]), (None, &b"all"[..]));
    assert_eq!(group.state(), State::Stable);

    let (b, mut b_join) = join_new(&mut group, &["range"], t);
    assert!(b_join.try_recv().is_err(), "waits for the existing member");
    assert_eq!(group.heartbeat(&a, 1, t), Err(ErrorCode::RebalanceInProgress));
    let mut a_join = later(group.join(request(&a, &["range"]), t));
    let (a_out, b_out) = (a_join.try_recv().unwrap(), b_join.try_recv().unwrap());
    assert_eq!((a_out.generation, b_out.generation), (2, 2));
    assert_eq!(a_out.leader, a, "the leader stays");
    assert_eq!(
        (a_out.members.len(), b_out.members.len()),
        (2, 0),
        "only the leader sees the members"
    );

    let mut b_sync = later(group.sync(&b, 2, vec![], t));
    let assignments = vec![
        (a.clone(), Bytes::from_static(b"p0")),
        (b.clone(), Bytes::from_static(b"p1")),
    ];
    assert_eq!(&now_reply(group.sync(&a, 2, assignments, t)).assignment[..], b"p0");
    assert_eq!(&b_sync.try_recv().unwrap().assignment[..], b"p1");
    assert_eq!(group.heartbeat(&b, 2, t), Ok(()));
    assert_eq!(group.heartbeat(&b, 1, t), Err(ErrorCode::IllegalGeneration));
}

#[test]
fn a_member_whose_session_expires_is_removed_and_the_rest_rebalance() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let (a, _) = join_new(&mut group, &["range"], t);
    let (b, mut b_join) = join_new(&mut group, &["range"], t);
    let mut a_join = later(group.join(request(&a, &["range"]), t));
    let _ = (a_join.try_recv().unwrap(), b_join.try_recv().unwrap());
    now_reply(group.sync(&a, 2, vec![], t));
    let later_t = t + SESSION / 2;
    assert_eq!(group.heartbeat(&a, 2, later_t), Ok(()));
    group.tick(t + SESSION + Duration::from_millis(1));
    assert_eq!(group.state(), State::PreparingRebalance, "b timed out");
    assert_eq!(group.heartbeat(&b, 2, later_t), Err(ErrorCode::UnknownMemberId));
    let mut a_join = later(group.join(request(&a, &["range"]), later_t));
    let out = a_join.try_recv().unwrap();
    assert_eq!((out.generation, out.members.len()), (3, 1));
}

#[test]
fn the_initial_delay_gathers_members_before_the_first_generation() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::from_secs(3));
    let (_, mut a_join) = join_new(&mut group, &["range"], t);
    let (_, mut b_join) = join_new(&mut group, &["range"], t + Duration::from_secs(1));
    assert!(a_join.try_recv().is_err() && b_join.try_recv().is_err());
    group.tick(t + Duration::from_secs(3));
    assert_eq!(a_join.try_recv().unwrap().generation, 1);
    assert_eq!(b_join.try_recv().unwrap().generation, 1);
}

#[test]
fn the_protocol_all_members_support_wins_and_an_incompatible_member_is_refused() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::from_secs(1));
    let (_, mut a) = join_new(&mut group, &["cooperative-sticky", "range"], t);
    let (_, mut b) = join_new(&mut group, &["range", "cooperative-sticky"], t);
    let (_, mut c) = join_new(&mut group, &["cooperative-sticky"], t);
    group.tick(t + Duration::from_secs(1));
    for receiver in [&mut a, &mut b, &mut c] {
        assert_eq!(
            receiver.try_recv().unwrap().protocol.as_deref(),
            Some("cooperative-sticky")
        );
    }
    let refused = now_reply(group.join(request("", &["roundrobin"]), t));
    assert_eq!(refused.error, Some(ErrorCode::InconsistentGroupProtocol));
}

#[test]
fn commits_need_the_current_generation_unless_the_group_is_empty() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    assert_eq!(
        group.check_commit("", -1),
        Ok(()),
        "standalone consumers commit into an empty group"
    );
    let (a, mut a_join) = join_new(&mut group, &["range"], t);
    a_join.try_recv().unwrap();
    assert_eq!(
        group.check_commit(&a, 1),
        Err(ErrorCode::RebalanceInProgress),
        "awaiting the assignment"
    );
    now_reply(group.sync(&a, 1, vec![], t));
    assert_eq!(group.check_commit(&a, 1), Ok(()));
    assert_eq!(group.check_commit(&a, 0), Err(ErrorCode::IllegalGeneration));
    assert_eq!(group.check_commit("stranger", 1), Err(ErrorCode::UnknownMemberId));
    assert_eq!(group.check_commit("", -1), Err(ErrorCode::UnknownMemberId));
    assert_eq!(group.leave(std::slice::from_ref(&a), t), vec![Ok(())]);
    assert_eq!(group.state(), State::Empty);
}

#[test]
fn a_leader_that_never_syncs_sends_everyone_back_to_join() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    // Sessions outlast the rebalance timeout here, so only the sync deadline acts.
    let long = REBALANCE * 2;
    let a = now_reply(group.join(request_with_session("", &["range"], long), t)).member_id;
    drop(later(group.join(request_with_session(&a, &["range"], long), t)));
    let b = now_reply(group.join(request_with_session("", &["range"], long), t)).member_id;
    let mut b_join = later(group.join(request_with_session(&b, &["range"], long), t));
    let mut a_join = later(group.join(request_with_session(&a, &["range"], long), t));
    let leader = a_join.try_recv().unwrap().leader;
    b_join.try_recv().unwrap();
    let follower = if leader == a { b } else { a };
    let mut waiting = later(group.sync(&follower, 2, vec![], t));
    group.tick(t + REBALANCE + Duration::from_millis(1));
    assert_eq!(waiting.try_recv().unwrap().error, Some(ErrorCode::RebalanceInProgress));
    assert_eq!(group.state(), State::PreparingRebalance);
}

#[test]
fn a_static_member_rejoining_replaces_its_old_incarnation() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let mut first = request("", &["range"]);
    first.instance_id = Some("host-1".into());
    let mut join = later(group.join(first, t));
    let old = join.try_recv().unwrap().member_id;
    let mut again = request("", &["range"]);
    again.instance_id = Some("host-1".into());
    let mut rejoin = later(group.join(again, t));
    let new = rejoin.try_recv().unwrap().member_id;
    assert_ne!(old, new);
    assert_eq!(group.member_of_instance("host-1"), Some(new.as_str()));
    assert_eq!(group.heartbeat(&old, 2, t), Err(ErrorCode::UnknownMemberId));
}

fn static_request(member_id: &str, instance: &str, protocols: &[&str]) -> JoinRequest {
    let mut request = request(member_id, protocols);
    request.instance_id = Some(instance.into());
    request
}

/// Two static members, joined and synced into generation 1; returns their ids.
fn stable_static_pair(group: &mut Group, t: Instant) -> (String, String) {
    let mut a_join = later(group.join(static_request("", "host-a", &["range"]), t));
    let mut b_join = later(group.join(static_request("", "host-b", &["range"]), t));
    let mut a_join_again = {
        // The first join completed alone (generation 1) before b arrived; a rejoins.
        let a = a_join.try_recv().unwrap();
        later(group.join(static_request(&a.member_id, "host-a", &["range"]), t))
    };
    let (a, b) = (a_join_again.try_recv().unwrap(), b_join.try_recv().unwrap());
    assert_eq!((a.generation, b.generation), (2, 2));
    let mut b_sync = later(group.sync(&b.member_id, 2, vec![], t));
    let assignments = vec![
        (a.member_id.clone(), Bytes::from_static(b"p0")),
        (b.member_id.clone(), Bytes::from_static(b"p1")),
    ];
    now_reply(group.sync(&a.member_id, 2, assignments, t));
    assert_eq!(&b_sync.try_recv().unwrap().assignment[..], b"p1");
    assert_eq!(group.state(), State::Stable);
    (a.member_id, b.member_id)
}

#[test]
fn a_static_member_restarting_keeps_its_assignment_without_a_rebalance() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let (a, b) = stable_static_pair(&mut group, t);

    // b's process restarts: it joins with no member id but the same instance id.
    let back = now_reply(group.join(static_request("", "host-b", &["range"]), t));
    assert_eq!(back.error, None);
    assert_eq!(back.generation, 2, "no new generation");
    assert_ne!(back.member_id, b);
    assert!(!back.skip_assignment && back.members.is_empty(), "b is not the leader");
    assert_eq!(group.state(), State::Stable);
    let synced = now_reply(group.sync(&back.member_id, 2, vec![], t));
    assert_eq!(&synced.assignment[..], b"p1", "the old assignment, unchanged");
    assert_eq!(group.heartbeat(&a, 2, t), Ok(()), "the other member sees no rebalance");

    // The old incarnation is fenced.
    assert_eq!(
        group.check_instance(&b, Some("host-b")),
        Err(ErrorCode::FencedInstanceId)
    );
    let zombie = now_reply(group.join(static_request(&b, "host-b", &["range"]), t));
    assert_eq!(zombie.error, Some(ErrorCode::FencedInstanceId));
}

#[test]
fn a_static_leader_restarting_is_told_to_skip_the_assignment() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let (a, _) = stable_static_pair(&mut group, t);
    let back = now_reply(group.join(static_request("", "host-a", &["range"]), t));
    assert_eq!((back.error, back.generation), (None, 2));
    assert_eq!(back.leader, back.member_id, "leadership moves to the new incarnation");
    assert!(back.skip_assignment);
    assert_eq!(back.members.len(), 2);
    assert_ne!(back.member_id, a);
    assert_eq!(group.state(), State::Stable);
}

#[test]
fn a_static_member_returning_with_a_new_subscription_triggers_a_rebalance() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    stable_static_pair(&mut group, t);
    let mut changed = static_request("", "host-b", &["range"]);
    changed.protocols = vec![("range".into(), Bytes::from_static(b"other topics"))];
    let _waiting = later(group.join(changed, t));
    assert_eq!(group.state(), State::PreparingRebalance);
}

/// A consumer protocol subscription, v0 by hand: the topics, no user data.
fn consumer_subscription(topics: &[&str]) -> Bytes {
    use bytes::BufMut;
    let mut buf = bytes::BytesMut::new();
    buf.put_i16(0);
    buf.put_i32(topics.len() as i32);
    for topic in topics {
        buf.put_i16(topic.len() as i16);
        buf.put_slice(topic.as_bytes());
    }
    buf.put_i32(-1);
    buf.freeze()
}

#[test]
fn offset_delete_keeps_the_topics_members_subscribe_to() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    assert!(
        group.protected_topics().unwrap().is_empty(),
        "an empty group keeps nothing"
    );
    let mut join = request("", &["range"]);
    join.require_known_member_id = false;
    join.protocols = vec![("range".into(), consumer_subscription(&["orders", "refunds"]))];
    let mut joined = later(group.join(join, t));
    joined.try_recv().unwrap();
    let protected = group.protected_topics().unwrap();
    assert!(protected.contains("orders") && protected.contains("refunds") && protected.len() == 2);

    let mut other = Group::new("connect".into(), Duration::ZERO);
    let mut join = request("", &["default"]);
    join.require_known_member_id = false;
    join.protocol_type = "connect".into();
    let _joined = later(other.join(join, t));
    assert_eq!(other.protected_topics(), Err(ErrorCode::NonEmptyGroup));
}

#[test]
fn describe_shows_members_and_their_assignments_once_stable() {
    let t = Instant::now();
    let mut group = Group::new("g".into(), Duration::ZERO);
    let (a, mut joined) = join_new(&mut group, &["range"], t);
    joined.try_recv().unwrap();
    let during = group.describe();
    assert_eq!(during.state, State::CompletingRebalance);
    assert!(during.members[0].assignment.is_empty(), "no assignment before the sync");
    now_reply(group.sync(&a, 1, vec![(a.clone(), Bytes::from_static(b"p0"))], t));
    let stable = group.describe();
    assert_eq!(
        (stable.state.name(), stable.protocol.as_deref()),
        ("Stable", Some("range"))
    );
    let member = &stable.members[0];
    assert_eq!(
        (member.member_id.as_str(), member.client_host.as_str()),
        (a.as_str(), "/127.0.0.1")
    );
    assert_eq!(
        (&member.assignment[..], &member.metadata[..]),
        (&b"p0"[..], &b"range"[..])
    );
}
