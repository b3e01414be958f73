//! A partition this broker hosts: its log, its role as the metadata last said, and, while
//! it leads, where each follower is (the high watermark and the ISR follow from that).

use std::collections::HashMap;
use std::sync::Arc;

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::{BrokerId, PartitionState};
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::log::{AppendInfo, LogError, PartitionLog, TopicPartition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<BrokerId>,
    pub replicas: Vec<BrokerId>,
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
    broker_id: BrokerId,
    role: RwLock<Role>,
    /// Leader side, per follower; started afresh with every leader epoch.
    followers: Mutex<HashMap<BrokerId, FollowerProgress>>,
    /// An ISR sent to the controller and not yet in the metadata. Until it is, the high
    /// watermark waits for the union of both (Kafka's "maximal ISR"), so a follower being
    /// added is never behind it.
    pending_isr: Mutex<Option<Vec<BrokerId>>>,
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
        broker_id: BrokerId,
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
        };
        partition.reset_followers(state);
        partition.advance_high_watermark();
        partition
    }

    pub fn role(&self) -> Role {
        self.role.read().clone()
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == self.broker_id
    }

    /// The leader as the metadata last said (without cloning the whole role).
    pub fn leader(&self) -> BrokerId {
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
    pub fn update(&self, state: &PartitionState) -> bool {
        let next = role_of(state);
        let (changed, isr_changed, replicas_changed) = {
            let mut role = self.role.write();
            let changed = role.leader != next.leader || role.leader_epoch != next.leader_epoch;
            let isr_changed = role.partition_epoch != next.partition_epoch;
            let replicas_changed = role.replicas != next.replicas;
            *role = next;
            (changed, isr_changed, replicas_changed)
        };
        if isr_changed {
            // The controller decided (our change, or another one that supersedes it).
            *self.pending_isr.lock() = None;
        }
        if changed {
            self.reset_followers(state);
        } else if replicas_changed {
            self.track_replicas(state);
        }
        self.advance_high_watermark();
        changed
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
    /// the ISR is smaller than `min.insync.replicas`.
    pub fn append_as_leader(&self, records: &[u8], acks_all: bool) -> Result<AppendInfo, AppendError> {
        let epoch = {
            let role = self.role.read();
            if role.leader != self.broker_id {
                return Err(AppendError::NotLeader);
            }
            let min = self.log.config().min_insync_replicas;
            if acks_all && (role.isr.len() as i64) < i64::from(min) {
                return Err(AppendError::NotEnoughReplicas {
                    isr: role.isr.len(),
                    min,
                });
            }
            role.leader_epoch
        };
        let info = self.log.append_as_leader(records, epoch).map_err(AppendError::Log)?;
        self.advance_high_watermark();
        Ok(info)
    }

    /// Whether the ISR has at least `min.insync.replicas` members (checked again when an
    /// `acks=all` append gives up waiting).
    pub fn has_min_isr(&self) -> bool {
        self.role.read().isr.len() as i64 >= i64::from(self.log.config().min_insync_replicas)
    }

    /// A follower fetched from `fetch_offset` (its log end): records its progress and
    /// moves the high watermark. Returns whether the high watermark moved.
    pub fn record_follower_fetch(&self, replica: BrokerId, fetch_offset: i64, now_ms: i64) -> bool {
        if !self.is_leader() {
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
        self.advance_high_watermark()
    }

    /// HW = the smallest log end over the (maximal) ISR, never moving back; only the
    /// leader moves it this way. Returns whether it moved.
    fn advance_high_watermark(&self) -> bool {
        let role = self.role.read();
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
        if high_watermark > self.log.high_watermark() {
            self.log.set_high_watermark(high_watermark);
            true
        } else {
            false
        }
    }

    /// The ISR this leader should ask for, if it differs from the current one: members
    /// (but itself) not caught up within `lag_max_ms` leave; live replicas that have
    /// reached the high watermark and this epoch's first offset join. `None` while a
    /// change is in flight.
    pub fn wanted_isr(&self, now_ms: i64, lag_max_ms: i64, live: impl Fn(BrokerId) -> bool) -> Option<Vec<BrokerId>> {
        let role = self.role.read();
        if role.leader != self.broker_id || self.pending_isr.lock().is_some() {
            return None;
        }
        let high_watermark = self.log.high_watermark();
        let epoch_start = self.log.leader_epochs().last().map_or(0, |e| e.start_offset);
        let followers = self.followers.lock();
        let wanted: Vec<BrokerId> = role
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
    pub fn set_pending_isr(&self, isr: Option<Vec<BrokerId>>) {
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
