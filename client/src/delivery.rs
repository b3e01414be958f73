//! Delivery reports without a future per record: the records of one batch share one
//! outcome (the partition and base offset, or the error), and each record's
//! [`DeliveryFuture`] is that outcome and the record's index in the batch.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::Notify;

use crate::error::{Error, Result};

/// Where an acknowledged record landed. `offset` is -1 with `acks=0`, which gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata {
    pub partition: i32,
    pub offset: i64,
}

/// A batch's result: `(partition, base offset)`, or the Kafka error code and a message.
type BatchResult = std::result::Result<(i32, i64), (i16, String)>;

#[derive(Default)]
pub(crate) struct BatchOutcome {
    /// The result and when it arrived.
    result: OnceLock<(BatchResult, Instant)>,
    done: Notify,
}

impl BatchOutcome {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Records the result (the first one wins) and wakes every waiting record.
    pub(crate) fn complete(&self, result: BatchResult) {
        let _ = self.result.set((result, Instant::now()));
        self.done.notify_waiters();
    }
}

/// Resolves once the record's batch is acknowledged or has failed for good.
pub struct DeliveryFuture {
    outcome: Arc<BatchOutcome>,
    index: i32,
}

impl DeliveryFuture {
    pub(crate) fn new(outcome: Arc<BatchOutcome>, index: i32) -> Self {
        DeliveryFuture { outcome, index }
    }

    pub async fn wait(self) -> Result<RecordMetadata> {
        self.wait_timed().await.0
    }

    /// As `wait`, with the instant the batch's answer arrived: a record's latency does
    /// not depend on when its future is polled (benchmarks wait in send order).
    pub async fn wait_timed(self) -> (Result<RecordMetadata>, Instant) {
        // Most records of a batch are waited for after it completed: no registration
        // with the Notify (a lock) for those.
        if let Some(done) = self.settled() {
            return done;
        }
        loop {
            // Registered before the check, so a completion in between is not missed.
            let notified = self.outcome.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(done) = self.settled() {
                return done;
            }
            notified.await;
        }
    }

    /// The record's result and when it came, once its batch has completed.
    fn settled(&self) -> Option<(Result<RecordMetadata>, Instant)> {
        let (result, at) = self.outcome.result.get()?;
        let result = match result {
            Ok((partition, base)) => Ok(RecordMetadata {
                partition: *partition,
                offset: if *base < 0 { -1 } else { base + i64::from(self.index) },
            }),
            Err((code, message)) => Err(Error::Kafka {
                code: *code,
                context: message.clone(),
            }),
        };
        Some((result, *at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_record_of_a_batch_learns_its_own_offset() {
        let outcome = BatchOutcome::new();
        let first = tokio::spawn(DeliveryFuture::new(Arc::clone(&outcome), 0).wait());
        let third = DeliveryFuture::new(Arc::clone(&outcome), 2);
        outcome.complete(Ok((4, 100)));
        assert_eq!(
            first.await.unwrap().unwrap(),
            RecordMetadata {
                partition: 4,
                offset: 100
            }
        );
        assert_eq!(third.wait().await.unwrap().offset, 102);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_record_with_its_code() {
        let outcome = BatchOutcome::new();
        outcome.complete(Err((10, "message too large".into())));
        let error = DeliveryFuture::new(outcome, 1).wait().await.unwrap_err();
        assert_eq!(error.kafka_code(), Some(10));
    }
}
