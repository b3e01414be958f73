//! ListOffsets: the earliest (-2), earliest local (-4, the same without tiered storage)
//! and latest (-1) offsets, the latest tiered offset (-5: none, -1), the record with the largest timestamp (-3), or the first
//! offset at or after a timestamp.

use brook_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use brook_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::Handlers;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
/// KIP-405's earliest offset still on local disk: with no tiered storage, the log start.
const EARLIEST_LOCAL: i64 = -4;
/// KIP-1005's latest offset in tiered storage: none without it (-1, as Kafka answers).
const LATEST_TIERED: i64 = -5;

impl Handlers {
    pub(super) fn list_offsets(&self, request: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
        let topics = request
            .topics
            .iter()
            .map(|topic| {
                let name = topic.name.0.as_str();
                let partitions = topic
                    .partitions
                    .iter()
                    .map(|p| {
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
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(topic.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        ListOffsetsResponse::default().with_topics(topics)
    }
}
