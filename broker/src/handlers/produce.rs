//! Produce: each partition's record set is validated and appended as it arrived (no
//! per-record parsing); `acks=0` gets no answer, `acks=1` an answer after the append,
//! `acks=all` one after the high watermark has passed the appended records.

use std::sync::Arc;
use std::time::Duration;

use brook_protocol::ErrorCode;
use brook_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use brook_protocol::messages::{ProduceRequest, ProduceResponse};
use bytes::Bytes;

use super::{Handlers, NO_ERROR, log_error_code};
use crate::replica::{AppendError, Partition};

struct Slot {
    partition: Option<Arc<Partition>>,
    records: Option<Bytes>,
    /// (error, base offset, last offset)
    outcome: (i16, i64, i64),
    /// A retry of batches already in the log (idempotent producer): nothing was written.
    duplicate: bool,
}

impl Handlers {
    pub(super) async fn produce(&self, request: ProduceRequest) -> Option<ProduceResponse> {
        let acks = request.acks;
        let mut slots: Vec<Vec<Slot>> = request
            .topic_data
            .iter()
            .map(|topic| {
                topic
                    .partition_data
                    .iter()
                    .map(|data| {
                        let hosted = self.hosted_partition(topic.name.0.as_str(), data.index);
                        let refusal = match &hosted {
                            _ if !matches!(acks, -1..=1) => ErrorCode::InvalidRequiredAcks.code(),
                            Ok(_) => NO_ERROR,
                            Err(code) => code.code(),
                        };
                        Slot {
                            partition: hosted.ok(),
                            records: data.records.clone(),
                            outcome: (refusal, -1, -1),
                            duplicate: false,
                        }
                    })
                    .collect()
            })
            .collect();

        // Appends may fsync (flush.messages=1): on a blocking thread, in request order.
        slots = tokio::task::spawn_blocking(move || {
            for slot in slots.iter_mut().flatten() {
                if slot.outcome.0 != NO_ERROR {
                    continue;
                }
                let (Some(partition), Some(records)) = (&slot.partition, &slot.records) else {
                    slot.outcome.0 = ErrorCode::CorruptMessage.code();
                    continue;
                };
                slot.outcome = match partition.append_as_leader(records, acks == -1) {
                    Ok(info) => {
                        slot.duplicate = info.duplicate;
                        (NO_ERROR, info.first_offset, info.last_offset)
                    }
                    Err(AppendError::NotLeader) => (ErrorCode::NotLeaderOrFollower.code(), -1, -1),
                    Err(AppendError::NotEnoughReplicas { isr, min }) => {
                        tracing::debug!(topic = %partition.tp.topic, partition = partition.tp.partition, isr, min,
                            "acks=all refused: too few in-sync replicas");
                        (ErrorCode::NotEnoughReplicas.code(), -1, -1)
                    }
                    Err(AppendError::Log(e)) => {
                        tracing::debug!(topic = %partition.tp.topic, partition = partition.tp.partition, error = %e,
                            "append refused");
                        (log_error_code(&e).code(), -1, -1)
                    }
                };
            }
            slots
        })
        .await
        .ok()?;
        self.replicas.notify_appended();
        for slot in slots.iter().flatten().filter(|s| s.outcome.0 == NO_ERROR) {
            if let (Some(partition), Some(records)) = (&slot.partition, &slot.records) {
                let topic = self.metrics.topic(&partition.tp.topic);
                if slot.duplicate {
                    topic.duplicates_in.inc();
                } else {
                    topic.bytes_in.inc_by(records.len() as u64);
                    topic.messages_in.inc_by((slot.outcome.2 - slot.outcome.1 + 1) as u64);
                }
            }
        }
        if acks == 0 {
            return None;
        }
        if acks == -1 {
            let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64);
            self.await_replication(&mut slots, timeout).await;
        }
        let responses = request
            .topic_data
            .iter()
            .zip(slots)
            .map(|(topic, slots)| {
                let partitions = topic
                    .partition_data
                    .iter()
                    .zip(slots)
                    .map(|(data, slot)| {
                        let (error, base_offset, _) = slot.outcome;
                        let log_start = slot.partition.as_ref().map_or(-1, |p| p.log.log_start_offset());
                        PartitionProduceResponse::default()
                            .with_index(data.index)
                            .with_error_code(error)
                            .with_base_offset(base_offset)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(log_start)
                    })
                    .collect();
                TopicProduceResponse::default()
                    .with_name(topic.name.clone())
                    .with_partition_responses(partitions)
            })
            .collect();
        Some(ProduceResponse::default().with_responses(responses))
    }

    /// `acks=all`: waits until every appended partition's high watermark has passed its
    /// records, or `timeout`; those still short then get `REQUEST_TIMED_OUT`, or
    /// `NOT_ENOUGH_REPLICAS_AFTER_APPEND` if the ISR has shrunk below `min.insync.replicas`.
    async fn await_replication(&self, slots: &mut [Vec<Slot>], timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let waiting = self.replicas.appended();
            let pending = slots.iter().flatten().any(|slot| {
                slot.outcome.0 == NO_ERROR
                    && slot
                        .partition
                        .as_ref()
                        .is_some_and(|p| p.log.high_watermark() <= slot.outcome.2)
            });
            if !pending {
                return;
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                break;
            }
        }
        for slot in slots.iter_mut().flatten() {
            let short = slot
                .partition
                .as_ref()
                .is_some_and(|p| p.log.high_watermark() <= slot.outcome.2);
            if slot.outcome.0 == NO_ERROR && short {
                let enough = slot.partition.as_ref().is_some_and(|p| p.has_min_isr());
                slot.outcome.0 = if enough {
                    ErrorCode::RequestTimedOut.code()
                } else {
                    ErrorCode::NotEnoughReplicasAfterAppend.code()
                };
            }
        }
    }
}
