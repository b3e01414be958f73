//! Producer ids for InitProducerId. They come in blocks from the controller quorum,
//! which never hands out the same id twice (the next free id is Raft state), so ids
//! are unique across brokers and restarts without the brokers talking to each other.

use std::ops::Range;
use std::sync::Arc;

use brook_controller_client::{ControllerClient, MetadataCache};
use brook_protocol::ErrorCode;
use parking_lot::Mutex;

pub struct ProducerIdAllocator {
    broker_id: i32,
    controller: Arc<ControllerClient>,
    metadata: MetadataCache,
    /// What is left of the current block.
    block: Mutex<Range<i64>>,
}

impl ProducerIdAllocator {
    pub fn new(broker_id: i32, controller: Arc<ControllerClient>, metadata: MetadataCache) -> Self {
        ProducerIdAllocator {
            broker_id,
            controller,
            metadata,
            block: Mutex::new(0..0),
        }
    }

    /// A producer id no one has had, or the retriable error to answer.
    pub async fn next(&self) -> Result<i64, ErrorCode> {
        if let Some(id) = self.block.lock().next() {
            return Ok(id);
        }
        // The epoch the quorum checks is the one it registered this broker under.
        let broker_epoch = self
            .metadata
            .image()
            .brokers
            .get(&self.broker_id)
            .map(|b| b.broker_epoch)
            .ok_or(ErrorCode::CoordinatorLoadInProgress)?;
        let fresh = self
            .controller
            .allocate_producer_ids(self.broker_id, broker_epoch)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot get producer ids from the controller");
                ErrorCode::CoordinatorLoadInProgress
            })?;
        let mut ids = fresh.first_id..fresh.first_id + i64::from(fresh.count);
        let id = ids.next().ok_or(ErrorCode::CoordinatorLoadInProgress)?;
        let mut block = self.block.lock();
        // Two callers may both have fetched a block: keep one; ids are plentiful.
        if block.is_empty() {
            *block = ids;
        }
        Ok(id)
    }
}
