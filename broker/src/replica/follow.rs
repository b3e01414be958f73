//! The follower's side of a partition: truncating to where its log agrees with the
//! leader's (KIP-101/279) and appending what the leader sent, each only while the
//! partition is still followed at the leader epoch the exchange was made under. A fetch
//! answer that arrives after this broker learned of a newer epoch, or became leader
//! itself, is dropped: applying it could truncate or overwrite records the new epoch
//! already acknowledged.

use bytes::Bytes;

use super::Partition;
use crate::log::{LogError, UNDEFINED_EPOCH};

/// What a leader sent for one partition in a fetch answer.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub records: Option<Bytes>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

impl Partition {
    /// Whether this broker follows the partition at `leader_epoch` (the role is
    /// read-locked by the caller for the whole change it guards).
    fn follows_at(role: &super::Role, me: i32, leader_epoch: i32) -> bool {
        role.leader != me && role.leader_epoch == leader_epoch
    }

    /// Where to truncate, given the leader's answer to OffsetForLeaderEpoch for our latest
    /// epoch: the end it has for that epoch (or the largest below it), but never past our
    /// own end of it; if the leader knows no such epoch, only what was committed stays.
    pub fn divergence_point(&self, answered_epoch: i32, answered_end_offset: i64) -> i64 {
        if answered_epoch == UNDEFINED_EPOCH || answered_end_offset < 0 {
            self.log.high_watermark()
        } else {
            let (_, our_end) = self.log.end_offset_for_epoch(answered_epoch);
            answered_end_offset.min(our_end)
        }
    }

    /// Truncates the log to `offset` as a follower of `leader_epoch`; returns `None`
    /// (doing nothing) if the partition has moved on from that epoch, else whether
    /// anything was removed. Blocking.
    pub fn truncate_as_follower(&self, offset: i64, leader_epoch: i32) -> Result<Option<bool>, LogError> {
        let role = self.role.read();
        if !Self::follows_at(&role, self.broker_id, leader_epoch) {
            return Ok(None);
        }
        self.log.truncate_to(offset).map(Some)
    }

    /// Empties the log to start at the leader's log start (ours ends below it). `None`
    /// if the partition has moved on from `leader_epoch`. Blocking.
    pub fn restart_at_leader_start(&self, leader_start: i64, leader_epoch: i32) -> Result<Option<()>, LogError> {
        let role = self.role.read();
        if !Self::follows_at(&role, self.broker_id, leader_epoch) {
            return Ok(None);
        }
        self.log.truncate_fully_and_start_at(leader_start).map(Some)
    }

    /// Appends what the leader sent under `leader_epoch` and follows its high watermark
    /// and log start. `false` (nothing applied) if the partition has moved on from that
    /// epoch. Blocking.
    pub fn append_fetched(&self, fetched: &Fetched, leader_epoch: i32) -> Result<bool, LogError> {
        let role = self.role.read();
        if !Self::follows_at(&role, self.broker_id, leader_epoch) {
            return Ok(false);
        }
        let log = &self.log;
        if let Some(records) = &fetched.records {
            let first_base = brook_protocol::records::Batches::new(records)
                .next()
                .and_then(Result::ok)
                .map(|b| b.base_offset());
            let end = log.log_end_offset();
            if let Some(base) = first_base.filter(|&base| base < end && log.log_start_offset() == end) {
                // The leader's log start is inside this batch (DeleteRecords): an empty
                // log takes the batch whole, from its base offset.
                log.truncate_fully_and_start_at(base)?;
            }
            log.append_as_follower(records)?;
        }
        // A new leader's high watermark may trail what this follower already had (even
        // below its log start after a DeleteRecords), and may be above what it has copied.
        log.set_high_watermark(
            fetched
                .high_watermark
                .clamp(log.log_start_offset(), log.log_end_offset()),
        );
        if fetched.log_start_offset > log.log_start_offset() {
            log.advance_log_start_offset(fetched.log_start_offset)?;
        }
        Ok(true)
    }
}
