//! Fetch on the leader: what a reader may see (consumers up to the high watermark,
//! followers up to the log end, and only from a leader at the epoch they follow), read as
//! whole batches that borrow the mapped segments.

use brook_protocol::ErrorCode;
use bytes::Bytes;

use super::Partition;

/// Who reads, which bounds what it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A consumer: up to the high watermark.
    Consumer,
    /// A follower replica: up to the log end, if it follows this leader's epoch (an
    /// older or newer epoch is refused, so a follower never copies from a stale leader).
    Follower { current_leader_epoch: i32 },
}

/// One partition's part of a fetch answer.
#[derive(Debug, Clone)]
pub struct PartitionRead {
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// Whole batches from `fetch_offset`, within the byte limit (KIP-74: the first batch
    /// whole even if larger); or why not, such as `OFFSET_OUT_OF_RANGE`, which goes out
    /// with the positions above so a follower behind the log start can start over there.
    pub records: Result<Vec<Bytes>, ErrorCode>,
}

impl Partition {
    /// Reads from `fetch_offset` as leader, at most `max_bytes` of whole batches; with
    /// `first_in_answer` (no partition before it in the answer has data) at least one
    /// batch, else none when `max_bytes` is 0 (KIP-74).
    pub fn read_as_leader(
        &self,
        reader: Reader,
        fetch_offset: i64,
        max_bytes: usize,
        first_in_answer: bool,
    ) -> Result<PartitionRead, ErrorCode> {
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if let Reader::Follower { current_leader_epoch } = reader {
            self.check_leader_epoch(current_leader_epoch)?;
        }
        let log = &self.log;
        let high_watermark = log.high_watermark();
        let upper = match reader {
            Reader::Consumer => high_watermark,
            Reader::Follower { .. } => log.log_end_offset(),
        };
        let records = if max_bytes == 0 && !first_in_answer {
            Ok(Vec::new())
        } else {
            log.read(fetch_offset, max_bytes, upper).map_err(|e| e.kafka_code())
        };
        debug_assert!(
            high_watermark <= log.log_end_offset(),
            "high watermark {high_watermark} above the log end {}",
            log.log_end_offset()
        );
        Ok(PartitionRead {
            high_watermark,
            log_start_offset: log.log_start_offset(),
            records,
        })
    }
}
