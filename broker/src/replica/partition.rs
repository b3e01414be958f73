//! A partition this broker hosts: its log and its role, as the metadata last said.

use std::sync::Arc;

use brook_protocol::rpc::metadata::{BrokerId, PartitionState};
use parking_lot::RwLock;
use uuid::Uuid;

use crate::log::{AppendInfo, LogError, PartitionLog, TopicPartition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub isr: Vec<BrokerId>,
    pub replicas: Vec<BrokerId>,
}

pub struct Partition {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    pub log: Arc<PartitionLog>,
    broker_id: BrokerId,
    role: RwLock<Role>,
}

/// Why this broker will not take a write for the partition.
#[derive(Debug)]
pub enum AppendError {
    NotLeader,
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
        };
        partition.advance_high_watermark();
        partition
    }

    pub fn role(&self) -> Role {
        self.role.read().clone()
    }

    pub fn is_leader(&self) -> bool {
        self.role.read().leader == self.broker_id
    }

    /// Takes the controller's latest view; returns whether leadership or epoch changed.
    pub fn update(&self, state: &PartitionState) -> bool {
        let next = role_of(state);
        let changed = {
            let mut role = self.role.write();
            let changed = role.leader != next.leader || role.leader_epoch != next.leader_epoch;
            *role = next;
            changed
        };
        self.advance_high_watermark();
        changed
    }

    /// Appends as leader, stamping the leader epoch; the HW follows when this broker is
    /// the whole ISR (replication moves it otherwise).
    pub fn append_as_leader(&self, records: &[u8]) -> Result<AppendInfo, AppendError> {
        let epoch = {
            let role = self.role.read();
            if role.leader != self.broker_id {
                return Err(AppendError::NotLeader);
            }
            role.leader_epoch
        };
        let info = self.log.append_as_leader(records, epoch).map_err(AppendError::Log)?;
        self.advance_high_watermark();
        Ok(info)
    }

    fn advance_high_watermark(&self) {
        let alone = {
            let role = self.role.read();
            role.leader == self.broker_id && role.isr.iter().all(|b| *b == self.broker_id)
        };
        if alone {
            self.log.set_high_watermark(self.log.log_end_offset());
        }
    }
}

fn role_of(state: &PartitionState) -> Role {
    Role {
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        isr: state.isr.clone(),
        replicas: state.replicas.clone(),
    }
}
