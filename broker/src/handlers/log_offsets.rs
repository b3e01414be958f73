//! The offsets of a partition's log: ListOffsets, OffsetForLeaderEpoch (KIP-101/279) and
//! DeleteRecords, which moves the log start.
//!
//! ListOffsets answers the earliest (-2), earliest local (-4, the same without tiered storage)
//! and latest (-1) offsets, the latest tiered offset (-5: none, -1), the record with the largest timestamp (-3), or the first
//! offset at or after a timestamp.

use brook_protocol::ErrorCode;
use brook_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use brook_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use brook_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use brook_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use super::{Handlers, per_partition};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// KIP-405's earliest offset still on local disk: with no tiered storage, the log start.
const EARLIEST_LOCAL: i64 = -4;
/// KIP-1005's latest offset in tiered storage: none without it (-1, as Kafka answers).
const LATEST_TIERED: i64 = -5;

impl Handlers {
    pub(super) fn list_offsets(&self, request: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
        let topics = per_partition(
            &request.topics,
            |topic| &topic.partitions,
            |topic, p| {
                let name = topic.name.0.as_str();
                let answer = ListOffsetsPartitionResponse::default()
                    .with_partition_index(p.partition_index)
                    .with_timestamp(-1)
                    .with_offset(-1);
                let partition = match self.led_partition(name, p.partition_index) {
                    Ok(partition) => partition,
                    Err(code) => return answer.with_error_code(code.code()),
                };
                let log = &partition.log;
                // The field exists from v4; an older response must leave it at its default.
                let answer = if version >= 4 {
                    answer.with_leader_epoch(partition.leader_epoch())
                } else {
                    answer
                };
                let found = match p.timestamp {
                    LATEST => Ok(Some((log.high_watermark(), -1))),
                    EARLIEST | EARLIEST_LOCAL => Ok(Some((log.log_start_offset(), -1))),
                    MAX_TIMESTAMP => log.max_timestamp_offset(),
                    LATEST_TIERED => Ok(Some((-1, -1))),
                    timestamp => log.offset_for_timestamp(timestamp),
                };
                match found {
                    Ok(Some((offset, timestamp))) => answer.with_offset(offset).with_timestamp(timestamp),
                    Ok(None) => answer,
                    Err(e) => answer.with_error_code(e.kafka_code().code()),
                }
            },
            |topic, partitions| {
                ListOffsetsTopicResponse::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions)
            },
        );
        ListOffsetsResponse::default().with_topics(topics)
    }

    /// KIP-101/279: the end offset of the requested leader epoch on this leader.
    pub(super) fn offset_for_leader_epoch(&self, request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        let topics = per_partition(
            &request.topics,
            |t| &t.partitions,
            |t, p| {
                let answer = EpochEndOffset::default()
                    .with_partition(p.partition)
                    .with_leader_epoch(-1)
                    .with_end_offset(-1);
                let partition = match self.led_partition(t.topic.0.as_str(), p.partition) {
                    Ok(partition) => partition,
                    Err(code) => return answer.with_error_code(code.code()),
                };
                if let Err(code) = partition.check_leader_epoch(p.current_leader_epoch) {
                    return answer.with_error_code(code.code());
                }
                let (epoch, end_offset) = partition.log.end_offset_for_epoch(p.leader_epoch);
                answer.with_leader_epoch(epoch).with_end_offset(end_offset)
            },
            |t, partitions| {
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(partitions)
            },
        );
        OffsetForLeaderEpochResponse::default().with_topics(topics)
    }

    /// Moves the log start offset (-1: to the high watermark); whole segments below it
    /// are removed by retention.
    pub(super) async fn delete_records(&self, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
        let mut work = Vec::new();
        for t in &request.topics {
            for p in &t.partitions {
                work.push((self.led_partition(t.name.0.as_str(), p.partition_index), p.offset));
            }
        }
        let outcomes = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(partition, offset)| {
                    let partition = partition?;
                    let log = &partition.log;
                    let target = if offset == -1 { log.high_watermark() } else { offset };
                    if target < 0 || target > log.high_watermark() {
                        return Err(ErrorCode::OffsetOutOfRange);
                    }
                    log.advance_log_start_offset(target).map_err(|e| e.kafka_code())
                })
                .collect::<Vec<Result<i64, ErrorCode>>>()
        })
        .await
        .unwrap_or_default();
        let mut outcomes = outcomes.into_iter();
        let topics = per_partition(
            &request.topics,
            |t| &t.partitions,
            |_, p| {
                let outcome = outcomes.next().unwrap_or(Err(ErrorCode::UnknownServerError));
                let answer = DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
                match outcome {
                    Ok(low_watermark) => answer.with_low_watermark(low_watermark),
                    Err(code) => answer.with_low_watermark(-1).with_error_code(code.code()),
                }
            },
            |t, partitions| {
                DeleteRecordsTopicResult::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            },
        );
        DeleteRecordsResponse::default().with_topics(topics)
    }
}
