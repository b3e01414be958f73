//! Produce on the leader: each partition's record set is appended as it arrived (no
//! per-record parsing), in request order, on a blocking thread (an append may fsync).
//! `acks=all` then waits in the purgatory until the high watermark has passed every
//! append, under the leader epoch it was made in: a leader demoted meanwhile answers
//! `NOT_LEADER_OR_FOLLOWER` at once, never an acknowledgement of offsets that may now
//! hold another producer's records.

use std::sync::Arc;
use std::time::Duration;

use brook_protocol::ErrorCode;
use bytes::Bytes;
use tokio::time::Instant;

use super::log_write;
use super::purgatory::DelayedOperation;
use super::{AppendError, LeaderAppend, Partition, Replication};

/// `acks` of a Produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceAcks {
    /// 0: no answer at all.
    None,
    /// 1: answered once the leader has appended.
    Leader,
    /// -1: answered once the in-sync replicas have the records.
    All,
}

impl ProduceAcks {
    /// Kafka's `acks` field; anything else is `INVALID_REQUIRED_ACKS`.
    pub fn from_wire(acks: i16) -> Option<ProduceAcks> {
        match acks {
            0 => Some(ProduceAcks::None),
            1 => Some(ProduceAcks::Leader),
            -1 => Some(ProduceAcks::All),
            _ => None,
        }
    }
}

/// One partition's part of a Produce request, as the handler resolved it.
pub struct ProducePartition {
    /// The hosted partition, or why the request cannot write to it.
    pub partition: Result<Arc<Partition>, ErrorCode>,
    pub records: Option<Bytes>,
}

/// Where a record set went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: i64,
    pub last_offset: i64,
    /// A retry of batches already in the log (idempotent producer): nothing was written.
    pub duplicate: bool,
    /// The append time a LogAppendTime topic stamped, else -1.
    pub log_append_time: i64,
}

/// The answer for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceOutcome {
    /// What the leader appended, if it did, whatever the answer (an `acks=all` append
    /// can still time out or be lost to a leadership change).
    pub appended: Option<Appended>,
    /// The base offset acknowledged, or the error.
    pub result: Result<i64, ErrorCode>,
    /// -1 when the partition is not hosted here.
    pub log_start_offset: i64,
}

/// Appends every record set of one Produce request and, with `acks=all`, waits up to
/// `timeout` for replication. Returns one outcome per partition, in order; every
/// partition gets one, even if the append task died.
pub async fn produce(acks: ProduceAcks, timeout: Duration, partitions: Vec<ProducePartition>) -> Vec<ProduceOutcome> {
    let deadline = Instant::now() + timeout;
    append(acks, partitions).await.outcomes(deadline).await
}

/// The appends of one Produce request, done; with `acks=all`, their replication may
/// still be pending. The connection can go on to its next produce meanwhile, so the
/// replication waits of requests in flight on one connection overlap.
pub struct Appends {
    acks_all: bool,
    partitions: Vec<ProducePartition>,
    results: Vec<Result<LeaderAppend, ErrorCode>>,
}

/// Appends every record set of one Produce request, in order, in place or on a
/// blocking thread (`log_write`).
pub async fn append(acks: ProduceAcks, partitions: Vec<ProducePartition>) -> Appends {
    let count = partitions.len();
    let acks_all = acks == ProduceAcks::All;
    let bytes = partitions
        .iter()
        .filter_map(|p| p.records.as_ref())
        .map(Bytes::len)
        .sum();
    let in_place = log_write::in_place(partitions.iter().filter_map(|p| p.partition.as_ref().ok()), bytes);
    let appended = log_write::run(in_place, move || {
        let results: Vec<Result<LeaderAppend, ErrorCode>> =
            partitions.iter().map(|p| append_one(p, acks_all)).collect();
        (partitions, results)
    })
    .await;
    match appended {
        Some((partitions, results)) => Appends {
            acks_all,
            partitions,
            results,
        },
        None => {
            // Which appends happened is unknown; the client retries (an idempotent
            // producer's retry is answered from the log without a second write).
            tracing::error!("the append task failed");
            Appends {
                acks_all,
                partitions: Vec::new(),
                results: vec![Err(ErrorCode::UnknownServerError); count],
            }
        }
    }
}

impl Appends {
    /// Whether the outcomes wait for followers (`acks=all` and something appended).
    pub fn awaits_replication(&self) -> bool {
        self.acks_all && self.results.iter().any(Result::is_ok)
    }

    /// One outcome per partition, in request order, once replicated (`acks=all`) or
    /// `deadline` passed.
    pub async fn outcomes(self, deadline: Instant) -> Vec<ProduceOutcome> {
        let Appends {
            acks_all,
            partitions,
            mut results,
        } = self;
        if partitions.is_empty() {
            // The append task died: every partition failed alike.
            return results
                .into_iter()
                .map(|result| ProduceOutcome {
                    appended: None,
                    result: result.map(|append| append.info.first_offset),
                    log_start_offset: -1,
                })
                .collect();
        }
        let appended: Vec<Option<Appended>> = results
            .iter()
            .map(|result| {
                result.as_ref().ok().map(|append| Appended {
                    base_offset: append.info.first_offset,
                    last_offset: append.info.last_offset,
                    duplicate: append.info.duplicate,
                    log_append_time: append.info.log_append_time,
                })
            })
            .collect();
        if acks_all {
            await_replication(&partitions, &mut results, deadline).await;
        }
        partitions
            .iter()
            .zip(results)
            .zip(appended)
            .map(|((requested, result), appended)| ProduceOutcome {
                appended,
                result: result.map(|append| append.info.first_offset),
                log_start_offset: requested.partition.as_ref().map_or(-1, |p| p.log.log_start_offset()),
            })
            .collect()
    }
}

fn append_one(requested: &ProducePartition, acks_all: bool) -> Result<LeaderAppend, ErrorCode> {
    let partition = requested.partition.as_ref().map_err(|code| *code)?;
    let records = requested.records.as_ref().ok_or(ErrorCode::CorruptMessage)?;
    partition.append_as_leader(records, acks_all).map_err(|error| {
        let (topic, index) = (&partition.tp.topic, partition.tp.partition);
        match error {
            AppendError::NotLeader => ErrorCode::NotLeaderOrFollower,
            AppendError::NotEnoughReplicas { isr, min } => {
                tracing::debug!(%topic, partition = index, isr, min, "acks=all refused: too few in-sync replicas");
                ErrorCode::NotEnoughReplicas
            }
            AppendError::Log(e) => {
                tracing::debug!(%topic, partition = index, error = %e, "append refused");
                e.kafka_code()
            }
        }
    })
}

/// `acks=all`: parks until every append is below its partition's high watermark at the
/// epoch it was made in, or has been lost to a leadership change, or `deadline` passes.
/// Those still short then get `REQUEST_TIMED_OUT`, or `NOT_ENOUGH_REPLICAS_AFTER_APPEND`
/// if the ISR has shrunk below `min.insync.replicas` meanwhile.
async fn await_replication(
    partitions: &[ProducePartition],
    results: &mut [Result<LeaderAppend, ErrorCode>],
    deadline: Instant,
) {
    let operation = DelayedOperation::new();
    for (requested, result) in partitions.iter().zip(results.iter()) {
        if let (Ok(partition), Ok(_)) = (&requested.partition, result) {
            operation.watch(&partition.watchers);
        }
    }
    let settle = |results: &mut [Result<LeaderAppend, ErrorCode>]| {
        let mut pending = false;
        for (requested, result) in partitions.iter().zip(results.iter_mut()) {
            let (Ok(partition), Ok(append)) = (&requested.partition, &*result) else {
                continue;
            };
            match partition.replication_of(append.leader_epoch, append.info.last_offset) {
                Replication::Done => {}
                Replication::Pending => pending = true,
                Replication::Lost(code) => *result = Err(code),
            }
        }
        pending
    };
    let completed = operation.complete_by(deadline, || !settle(results)).await;
    if completed {
        return;
    }
    for (requested, result) in partitions.iter().zip(results.iter_mut()) {
        if let (Ok(partition), Ok(append)) = (&requested.partition, &*result)
            && partition.replication_of(append.leader_epoch, append.info.last_offset) == Replication::Pending
        {
            *result = Err(if partition.has_min_isr() {
                ErrorCode::RequestTimedOut
            } else {
                ErrorCode::NotEnoughReplicasAfterAppend
            });
        }
    }
}
