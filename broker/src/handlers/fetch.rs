//! Fetch: whole batches straight from the mapped segments into the response (no copy),
//! up to the high watermark for consumers and the log end for followers, waiting up to
//! `max_wait_ms` for `min_bytes` to arrive.

use brook_protocol::ErrorCode;
use brook_protocol::fetch::{FetchResponseHead, FetchedPartition, FetchedTopic, encode_fetch_response};
use brook_protocol::messages::FetchRequest;
use bytes::Bytes;
use tokio::time::Instant;

use super::{Handlers, NO_ERROR, log_error_code};
use crate::log::residency;

impl Handlers {
    pub(super) async fn fetch(&self, request: FetchRequest, version: i16, correlation_id: i32) -> Vec<Bytes> {
        if let Some(replica) = follower_id(&request) {
            self.record_follower_positions(replica, &request, version);
        }
        let deadline = Instant::now() + std::time::Duration::from_millis(request.max_wait_ms.max(0) as u64);
        loop {
            // Registered before reading, so an append in between still wakes us.
            let appended = self.replicas.appended();
            let (topics, bytes, errors) = self.read_fetch(&request, version);
            let satisfied = bytes >= request.min_bytes.max(0) as usize || errors;
            if satisfied || tokio::time::timeout_at(deadline, appended).await.is_err() {
                let (topics, ..) = if satisfied {
                    (topics, bytes, errors)
                } else {
                    self.read_fetch(&request, version)
                };
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
                // Cold segment pages would fault inside the socket write, on an async
                // worker: read them in on a blocking thread first.
                if residency::absent_pages(&records) {
                    let _ = tokio::task::spawn_blocking(move || residency::fault_in(&records)).await;
                }
                return encode_fetch_response(version, correlation_id, &FetchResponseHead::default(), &topics);
            }
        }
    }

    /// A follower's fetch offsets are its log ends: the leader's high watermarks may move,
    /// which completes `acks=all` produces waiting on them.
    fn record_follower_positions(&self, replica: i32, request: &FetchRequest, version: i16) {
        let image = self.metadata.image();
        let now = crate::log::now_ms();
        let mut moved = false;
        for wanted in &request.topics {
            let name = if version >= 13 {
                image.topics.get(&wanted.topic_id).map(|t| t.name.as_str())
            } else {
                Some(wanted.topic.0.as_str())
            };
            let Some(name) = name else { continue };
            for p in &wanted.partitions {
                if let Some(partition) = self.replicas.get(name, p.partition) {
                    moved |= partition.record_follower_fetch(replica, p.fetch_offset, now);
                }
            }
        }
        if moved {
            self.replicas.notify_appended();
        }
    }

    /// One pass over the requested partitions: the answer, its record bytes, and
    /// whether any partition answered an error (which ends a long poll at once).
    fn read_fetch(&self, request: &FetchRequest, version: i16) -> (Vec<FetchedTopic>, usize, bool) {
        let image = self.metadata.image();
        let from_follower = follower_id(request).is_some();
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
                // Followers also name the leader epoch they follow; an older or newer
                // one than ours is refused, so a follower never copies from a stale leader.
                let found = name.as_deref().map(|n| -> Result<_, ErrorCode> {
                    let led = self.led_partition(n, p.partition)?;
                    if from_follower {
                        led.check_leader_epoch(p.current_leader_epoch)?;
                    }
                    Ok(led)
                });
                let code = match found {
                    None => ErrorCode::UnknownTopicId.code(),
                    Some(Err(code)) => code.code(),
                    Some(Ok(partition)) => {
                        let log = &partition.log;
                        answer.high_watermark = log.high_watermark();
                        answer.last_stable_offset = answer.high_watermark;
                        answer.log_start_offset = log.log_start_offset();
                        let upper = if from_follower {
                            log.log_end_offset()
                        } else {
                            answer.high_watermark
                        };
                        let limit = (p.partition_max_bytes.max(0) as usize).min(remaining);
                        // KIP-74: the first partition with data gets a whole batch even if
                        // it is larger than the limits; later ones only what fits.
                        if limit == 0 && total > 0 {
                            NO_ERROR
                        } else {
                            match log.read(p.fetch_offset, limit, upper) {
                                Ok(batches) => {
                                    let size: usize = batches.iter().map(Bytes::len).sum();
                                    total += size;
                                    remaining = remaining.saturating_sub(size);
                                    answer.records = batches;
                                    NO_ERROR
                                }
                                Err(e) => log_error_code(&e).code(),
                            }
                        }
                    }
                };
                errors |= code != NO_ERROR;
                answer.error_code = code;
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
