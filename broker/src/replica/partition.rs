//! A partition this broker hosts: its log, its role as the metadata last said, and, while
//! it leads, where each follower is (the high watermark and the ISR follow from that).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::{BrokerNodeId, PartitionState};
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use super::purgatory::Watchers;
use crate::log::{AppendInfo, LogError, PartitionLog, TopicPartition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub leader: BrokerNodeId,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<BrokerNodeId>,
    pub replicas: Vec<BrokerNodeId>,
}

/// What the leader knows of a follower, from its fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FollowerProgress {
    /// Its log end offset (the offset it last fetched from); -1 until it fetches.
    log_end_offset: i64,
    /// When it last had everything the leader had (Kafka's `lastCaughtUpTimeMs`).
    last_caught_up_ms: i64,
    /// The leader's log end and the time at its previous fetch: a follower that fetches
    /// from at least there was caught up then, even if more arrived since.
    previous_fetch_leader_end: i64,
    previous_fetch_ms: i64,
}

impl FollowerProgress {
    fn new(now_ms: i64) -> Self {
        FollowerProgress {
            log_end_offset: -1,
            last_caught_up_ms: now_ms,
            previous_fetch_leader_end: i64::MAX,
            previous_fetch_ms: now_ms,
        }
    }
}

pub struct Partition {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    pub log: Arc<PartitionLog>,
    pub(super) broker_id: BrokerNodeId,
    pub(super) role: RwLock<Role>,
    /// Leader side, per follower; started afresh with every leader epoch.
    followers: Mutex<HashMap<BrokerNodeId, FollowerProgress>>,
    /// An ISR sent to the controller and not yet in the metadata. Until it is, the high
    /// watermark waits for the union of both (Kafka's "maximal ISR"), so a follower being
    /// added is never behind it.
    pending_isr: Mutex<Option<Vec<BrokerNodeId>>>,
    /// The delayed produces and fetches waiting on this partition; woken when its log
    /// end, high watermark or role moves, and when it is removed.
    pub(crate) watchers: Watchers,
    /// No longer hosted here (deleted, or moved away).
    removed: AtomicBool,
    /// The broker's lease with the controller ran out: it must act as fenced, leading
    /// nothing, until it has heard the controller again. One flag for the whole broker,
    /// shared by its partitions (`ReplicaManager::set_lease_lapsed`).
    lease_lapsed: Arc<AtomicBool>,
}

/// A leader's append: where the records went, and the leader epoch they were stamped
/// with (an `acks=all` wait succeeds only while this broker still leads at it).
#[derive(Debug, Clone, Copy)]
pub struct LeaderAppend {
    pub info: AppendInfo,
    pub leader_epoch: i32,
}

/// How far an `acks=all` append has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// The high watermark has passed it, under the epoch it was appended in, with at
    /// least `min.insync.replicas` in sync.
    Done,
    /// Not yet below the high watermark.
    Pending,
    /// Not acknowledged, with this error: this broker no longer leads the partition at
    /// the append's epoch or no longer hosts it (the offsets may now hold other
    /// records), or the ISR fell below `min.insync.replicas`.
    Lost(ErrorCode),
}

/// Why this broker will not take a write for the partition.
#[derive(Debug)]
pub enum AppendError {
    NotLeader,
    /// `acks=all` with fewer in-sync replicas than `min.insync.replicas`.
    NotEnoughReplicas {
        isr: usize,
        min: i32,
    },
    Log(LogError),
}

impl Partition {
    pub fn new(
        tp: TopicPartition,
        topic_id: Uuid,
        log: Arc<PartitionLog>,
        broker_id: BrokerNodeId,
        state: &PartitionState,
    ) -> Self {
        let partition = Partition {
            tp,
            topic_id,
            log,
            broker_id,
            role: RwLock::new(role_of(state)),
            followers: Mutex::new(HashMap::new()),
            pending_isr: Mutex::new(None),
            watchers: Watchers::default(),
            removed: AtomicBool::new(false),
            lease_lapsed: Arc::new(AtomicBool::new(false)),
        };
        partition.reset_followers(state);
        partition.advance_high_watermark(&partition.role.read());
        partition
    }

    pub fn role(&self) -> Role {
        self.role.read().clone()
    }

    /// Whether this broker leads the partition and may act on it: the metadata says so,
    /// and its lease with the controller has not lapsed.
    pub fn is_leader(&self) -> bool {
        self.leader() == self.broker_id && !self.lease_lapsed.load(Ordering::Acquire)
    }

    /// The leader as the metadata last said (without cloning the whole role).
    pub fn leader(&self) -> BrokerNodeId {
        self.role.read().leader
    }

    pub fn leader_epoch(&self) -> i32 {
        self.role.read().leader_epoch
    }

    /// A request's `current_leader_epoch` against ours (-1: not given): an older one is
    /// `FENCED_LEADER_EPOCH`, a newer one (our metadata lags) `UNKNOWN_LEADER_EPOCH`.
    pub fn check_leader_epoch(&self, requested: i32) -> Result<(), ErrorCode> {
        let current = self.role.read().leader_epoch;
        if requested >= 0 && requested < current {
            Err(ErrorCode::FencedLeaderEpoch)
        } else if requested > current {
            Err(ErrorCode::UnknownLeaderEpoch)
        } else {
            Ok(())
        }
    }

    /// Takes the controller's latest view; returns whether leadership or epoch changed.
    /// Any change wakes the operations waiting on this partition: a demoted leader's
    /// `acks=all` produces complete at once, and a smaller ISR may let the high
    /// watermark pass theirs.
    pub fn update(&self, state: &PartitionState) -> bool {
        let next = role_of(state);
        let mut role = self.role.write();
        let changed = role.leader != next.leader || role.leader_epoch != next.leader_epoch;
        let isr_changed = role.partition_epoch != next.partition_epoch;
        let replicas_changed = role.replicas != next.replicas;
        debug_assert!(
            next.leader_epoch >= role.leader_epoch,
            "leader epochs only grow: {} after {}",
            next.leader_epoch,
            role.leader_epoch
        );
        *role = next;
        if isr_changed {
            // The controller decided (our change, or another one that supersedes it).
            *self.pending_isr.lock() = None;
        }
        if changed {
            self.reset_followers(state);
        } else if replicas_changed {
            self.track_replicas(state);
        }
        let moved = self.advance_high_watermark(&role);
        drop(role);
        if changed || isr_changed || replicas_changed || moved {
            self.watchers.wake();
        }
        changed
    }

    /// Follows the broker's lease flag instead of its own (before the partition is
    /// published, so no lapse can be missed).
    pub(super) fn share_lease(&mut self, lease: Arc<AtomicBool>) {
        self.lease_lapsed = lease;
    }

    /// The lease lapsed (`true`) or is running again, for a partition on its own. A lapse
    /// ends every operation waiting on the partition as a demotion would.
    #[cfg(test)]
    pub(super) fn set_lease_lapsed(&self, lapsed: bool) {
        self.lease_lapsed.store(lapsed, Ordering::Release);
        self.watchers.wake();
    }

    /// This broker no longer hosts the partition: every operation waiting on it ends.
    pub(super) fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
        self.watchers.wake();
    }

    /// Where an `acks=all` append of records up to `last_offset`, made under
    /// `leader_epoch`, stands. A demoted leader may have truncated those offsets and
    /// refilled them from the new leader, so a high watermark past them proves nothing
    /// unless this broker still leads at the same epoch (Kafka's DelayedProduce).
    pub fn replication_of(&self, leader_epoch: i32, last_offset: i64) -> Replication {
        if self.removed.load(Ordering::Acquire) || self.lease_lapsed.load(Ordering::Acquire) {
            return Replication::Lost(ErrorCode::NotLeaderOrFollower);
        }
        let role = self.role.read();
        if role.leader != self.broker_id || role.leader_epoch != leader_epoch {
            return Replication::Lost(ErrorCode::NotLeaderOrFollower);
        }
        if self.log.high_watermark() <= last_offset {
            Replication::Pending
        } else if (role.isr.len() as i64) < i64::from(self.log.config().min_insync_replicas) {
            // The high watermark passed because the ISR shrank below the minimum: the
            // records are on too few replicas to promise (Kafka answers the same).
            Replication::Lost(ErrorCode::NotEnoughReplicasAfterAppend)
        } else {
            Replication::Done
        }
    }

    fn reset_followers(&self, state: &PartitionState) {
        let now = crate::log::now_ms();
        let mut followers = self.followers.lock();
        followers.clear();
        if state.leader == self.broker_id {
            for &replica in state.replicas.iter().filter(|&&r| r != self.broker_id) {
                followers.insert(replica, FollowerProgress::new(now));
            }
        }
    }

    /// A reassignment changed the replicas under the same leader: new followers are
    /// tracked from scratch, departed ones forgotten, the others keep their progress.
    fn track_replicas(&self, state: &PartitionState) {
        if state.leader != self.broker_id {
            return;
        }
        let now = crate::log::now_ms();
        let mut followers = self.followers.lock();
        followers.retain(|replica, _| state.replicas.contains(replica));
        for &replica in state.replicas.iter().filter(|&&r| r != self.broker_id) {
            followers.entry(replica).or_insert_with(|| FollowerProgress::new(now));
        }
    }

    /// Appends as leader, stamping the leader epoch; the HW follows when this broker is
    /// the whole ISR (follower fetches move it otherwise). With `acks=all`, refused while
    /// the ISR is smaller than `min.insync.replicas`. The role stays read-locked through
    /// the append (as Kafka's `leaderIsrUpdateLock`), so a demotion cannot slip between
    /// the leadership check and the write: records are never stamped with an epoch this
    /// broker no longer leads. Blocking (the append may fsync).
    pub fn append_as_leader(&self, records: &[u8], acks_all: bool) -> Result<LeaderAppend, AppendError> {
        let role = self.role.read();
        if role.leader != self.broker_id || self.lease_lapsed.load(Ordering::Acquire) {
            return Err(AppendError::NotLeader);
        }
        let min = self.log.config().min_insync_replicas;
        if acks_all && (role.isr.len() as i64) < i64::from(min) {
            return Err(AppendError::NotEnoughReplicas {
                isr: role.isr.len(),
                min,
            });
        }
        let leader_epoch = role.leader_epoch;
        let info = self
            .log
            .append_as_leader(records, leader_epoch)
            .map_err(AppendError::Log)?;
        self.advance_high_watermark(&role);
        drop(role);
        self.watchers.wake();
        Ok(LeaderAppend { info, leader_epoch })
    }

    /// Whether the ISR has at least `min.insync.replicas` members (checked again when an
    /// `acks=all` append gives up waiting).
    pub fn has_min_isr(&self) -> bool {
        self.role.read().isr.len() as i64 >= i64::from(self.log.config().min_insync_replicas)
    }

    /// A follower fetched from `fetch_offset` (its log end): records its progress and
    /// moves the high watermark. Returns whether the high watermark moved.
    pub fn record_follower_fetch(&self, replica: BrokerNodeId, fetch_offset: i64, now_ms: i64) -> bool {
        let role = self.role.read();
        if role.leader != self.broker_id {
            return false;
        }
        let leader_end = self.log.log_end_offset();
        {
            let mut followers = self.followers.lock();
            let Some(progress) = followers.get_mut(&replica) else {
                return false; // not a replica of this partition
            };
            progress.log_end_offset = fetch_offset.min(leader_end);
            if fetch_offset >= leader_end {
                progress.last_caught_up_ms = now_ms;
            } else if fetch_offset >= progress.previous_fetch_leader_end {
                progress.last_caught_up_ms = progress.last_caught_up_ms.max(progress.previous_fetch_ms);
            }
            progress.previous_fetch_leader_end = leader_end;
            progress.previous_fetch_ms = now_ms;
        }
        let moved = self.advance_high_watermark(&role);
        drop(role);
        if moved {
            self.watchers.wake();
        }
        moved
    }

    /// HW = the smallest log end over the (maximal) ISR, never moving back; only the
    /// leader moves it this way. Returns whether it moved. Takes the role its caller
    /// holds locked (a second read lock could deadlock behind a waiting writer).
    fn advance_high_watermark(&self, role: &Role) -> bool {
        if role.leader != self.broker_id {
            return false;
        }
        let mut high_watermark = self.log.log_end_offset();
        {
            let followers = self.followers.lock();
            let pending = self.pending_isr.lock();
            let maximal = role.isr.iter().chain(pending.iter().flatten());
            for replica in maximal.filter(|&&r| r != self.broker_id) {
                let end = followers.get(replica).map_or(-1, |f| f.log_end_offset);
                high_watermark = high_watermark.min(end);
            }
        }
        self.log.raise_high_watermark(high_watermark)
    }

    /// The ISR this leader should ask for, if it differs from the current one: members
    /// (but itself) not caught up within `lag_max_ms` leave; live replicas that have
    /// reached the high watermark and this epoch's first offset join. `None` while a
    /// change is in flight.
    pub fn wanted_isr(
        &self,
        now_ms: i64,
        lag_max_ms: i64,
        live: impl Fn(BrokerNodeId) -> bool,
    ) -> Option<Vec<BrokerNodeId>> {
        let role = self.role.read();
        if role.leader != self.broker_id || self.pending_isr.lock().is_some() {
            return None;
        }
        let high_watermark = self.log.high_watermark();
        let epoch_start = self.log.leader_epochs().last().map_or(0, |e| e.start_offset);
        let followers = self.followers.lock();
        let wanted: Vec<BrokerNodeId> = role
            .replicas
            .iter()
            .copied()
            .filter(|&replica| {
                if replica == self.broker_id {
                    return true;
                }
                let Some(progress) = followers.get(&replica) else {
                    return false;
                };
                if role.isr.contains(&replica) {
                    now_ms - progress.last_caught_up_ms <= lag_max_ms
                } else {
                    live(replica) && progress.log_end_offset >= high_watermark.max(epoch_start)
                }
            })
            .collect();
        let same = wanted.len() == role.isr.len() && wanted.iter().all(|r| role.isr.contains(r));
        (!same).then_some(wanted)
    }

    /// Marks `isr` as sent to the controller.
    pub fn set_pending_isr(&self, isr: Option<Vec<BrokerNodeId>>) {
        *self.pending_isr.lock() = isr;
    }
}

fn role_of(state: &PartitionState) -> Role {
    Role {
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        partition_epoch: state.partition_epoch,
        isr: state.isr.clone(),
        replicas: state.replicas.clone(),
    }
}
