//! Fetch: whole batches straight from the mapped segments into the response (no copy),
//! up to the high watermark for consumers and the log end for followers, waiting up to
//! `max_wait_ms` for `min_bytes` to arrive.

use std::sync::Arc;

use brook_protocol::ErrorCode;
use brook_protocol::fetch::{FetchResponseHead, FetchedPartition, FetchedTopic, NodeEndpoint, encode_fetch_response};
use brook_protocol::messages::FetchRequest;
use bytes::Bytes;
use tokio::time::Instant;

use super::leader_hint::{LeaderHints, current_leader};
use super::{Handlers, NO_ERROR};
use crate::log::residency;
use crate::replica::purgatory::DelayedOperation;
use crate::replica::{Partition, Reader};

impl Handlers {
    pub(super) async fn fetch(&self, request: FetchRequest, version: i16, correlation_id: i32) -> Vec<Bytes> {
        let follower = follower_id(&request);
        let hosted = self.requested_partitions(&request, version);
        if let Some(replica) = follower {
            // Its fetch offsets are its log ends: high watermarks may move, which wakes
            // the acks=all produces waiting on them.
            let now = crate::log::now_ms();
            for (partition, fetch_offset) in &hosted {
                partition.record_follower_fetch(replica, *fetch_offset, now);
            }
        }
        // A long poll watches the requested partitions only: their appends, high
        // watermark and role changes wake it, nothing else does.
        let deadline = Instant::now() + std::time::Duration::from_millis(request.max_wait_ms.max(0) as u64);
        let operation = DelayedOperation::new();
        for (partition, _) in &hosted {
            operation.watch(&partition.watchers);
        }
        let min_bytes = request.min_bytes.max(0) as usize;
        let mut answer = None;
        operation
            .complete_by(deadline, || {
                let (topics, bytes, errors) = self.read_fetch(&request, version);
                answer = Some(topics);
                bytes >= min_bytes || errors
            })
            .await;
        let topics = answer.unwrap_or_default();
        for topic in &topics {
            let bytes: usize = topic.partitions.iter().flat_map(|p| &p.records).map(Bytes::len).sum();
            if bytes > 0 {
                self.metrics.topic(&topic.name).bytes_out.inc_by(bytes as u64);
            }
        }
        let records: Vec<Bytes> = topics
            .iter()
            .flat_map(|t| &t.partitions)
            .flat_map(|p| p.records.iter().cloned())
            .collect();
        // Cold segment pages would fault inside the socket write, on an async worker:
        // read them in on a blocking thread first.
        if residency::absent_pages(&records) {
            let _ = tokio::task::spawn_blocking(move || residency::fault_in(&records)).await;
        }
        let head = FetchResponseHead {
            node_endpoints: self.leader_endpoints(&topics),
            ..FetchResponseHead::default()
        };
        encode_fetch_response(version, correlation_id, &head, &topics)
    }

    /// The endpoints of the leaders the partitions' KIP-951 hints name.
    fn leader_endpoints(&self, topics: &[FetchedTopic]) -> Vec<NodeEndpoint> {
        let mut hints = LeaderHints::default();
        for (leader, _) in topics
            .iter()
            .flat_map(|t| &t.partitions)
            .filter_map(|p| p.current_leader)
        {
            hints.add(leader);
        }
        // The usual fetch names no leader: no second look at the metadata for it.
        if hints.is_empty() {
            return Vec::new();
        }
        let image = self.metadata.image();
        hints
            .endpoints(&image)
            .map(|b| NodeEndpoint {
                node_id: b.id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.map(|r| r.to_string()),
            })
            .collect()
    }

    /// The requested partitions this broker hosts, with their fetch offsets.
    fn requested_partitions(&self, request: &FetchRequest, version: i16) -> Vec<(Arc<Partition>, i64)> {
        let image = self.metadata.image();
        let mut hosted = Vec::new();
        for wanted in &request.topics {
            let name = if version >= 13 {
                image.topics.get(&wanted.topic_id).map(|t| t.name.as_str())
            } else {
                Some(wanted.topic.0.as_str())
            };
            let Some(name) = name else { continue };
            for p in &wanted.partitions {
                if let Some(partition) = self.replicas.get(name, p.partition) {
                    hosted.push((partition, p.fetch_offset));
                }
            }
        }
        hosted
    }

    /// One pass over the requested partitions: the answer, its record bytes, and
    /// whether any partition answered an error (which ends a long poll at once).
    fn read_fetch(&self, request: &FetchRequest, version: i16) -> (Vec<FetchedTopic>, usize, bool) {
        let image = self.metadata.image();
        let follower = follower_id(request).is_some();
        let mut remaining = request.max_bytes.max(0) as usize;
        let mut total = 0;
        let mut errors = false;
        let mut topics = Vec::with_capacity(request.topics.len());
        for wanted in &request.topics {
            let name = if version >= 13 {
                image.topics.get(&wanted.topic_id).map(|t| t.name.clone())
            } else {
                Some(wanted.topic.0.to_string())
            };
            let mut partitions = Vec::with_capacity(wanted.partitions.len());
            for p in &wanted.partitions {
                let mut answer = FetchedPartition {
                    partition_index: p.partition,
                    high_watermark: -1,
                    last_stable_offset: -1,
                    log_start_offset: -1,
                    ..FetchedPartition::default()
                };
                let reader = if follower {
                    Reader::Follower {
                        current_leader_epoch: p.current_leader_epoch,
                    }
                } else {
                    Reader::Consumer
                };
                let limit = (p.partition_max_bytes.max(0) as usize).min(remaining);
                let read = match name.as_deref() {
                    None => Err(ErrorCode::UnknownTopicId),
                    Some(name) => self
                        .hosted_partition(name, p.partition)
                        .and_then(|partition| partition.read_as_leader(reader, p.fetch_offset, limit, total == 0)),
                };
                let code = match read {
                    Ok(read) => {
                        answer.high_watermark = read.high_watermark;
                        answer.last_stable_offset = read.high_watermark;
                        answer.log_start_offset = read.log_start_offset;
                        match read.records {
                            Ok(records) => {
                                let size: usize = records.iter().map(Bytes::len).sum();
                                total += size;
                                remaining = remaining.saturating_sub(size);
                                answer.records = records;
                                NO_ERROR
                            }
                            Err(code) => code.code(),
                        }
                    }
                    Err(code) => code.code(),
                };
                errors |= code != NO_ERROR;
                answer.error_code = code;
                // KIP-951: where the client should fetch instead.
                let moved = [ErrorCode::NotLeaderOrFollower, ErrorCode::FencedLeaderEpoch].map(|e| e.code());
                if moved.contains(&code)
                    && let Some(name) = name.as_deref()
                {
                    answer.current_leader = current_leader(&image, self.config.broker_id, name, p.partition)
                        .map(|l| (l.leader_id, l.leader_epoch));
                }
                partitions.push(answer);
            }
            topics.push(FetchedTopic {
                name: name.unwrap_or_default(),
                topic_id: wanted.topic_id,
                partitions,
            });
        }
        (topics, total, errors)
    }
}

/// The fetching broker's id, when a follower (not a consumer) fetches.
fn follower_id(request: &FetchRequest) -> Option<i32> {
    [request.replica_id.0, request.replica_state.replica_id.0]
        .into_iter()
        .find(|id| *id >= 0)
}
