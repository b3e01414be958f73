//! Produce: the wire request in, the answer out. Appending and the `acks=all` wait live
//! in `replica::append`; this module resolves partitions, counts bytes and messages, and
//! builds the response. A partition answered `NOT_LEADER_OR_FOLLOWER` names the leader
//! this broker's metadata knows (KIP-951, v10+), with its endpoint, so the client moves
//! there without a metadata round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use brook_protocol::ErrorCode;
use brook_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use brook_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse, TopicName};
use bytes::Bytes;
use tokio::time::Instant;

use super::Handlers;
use super::leader_hint::{LeaderHints, current_leader};
use crate::replica::{self, Appended, ProduceAcks, ProduceOutcome, ProducePartition};

/// A Produce handled up to its appends.
pub(super) enum Produced {
    /// The answer, or `None` for `acks=0`.
    Answered(Option<ProduceResponse>),
    /// `acks=all`: the answer once the followers have the records (or time is up).
    Replicating(Pin<Box<dyn Future<Output = ProduceResponse> + Send>>),
}

impl Handlers {
    /// Appends at once; an `acks=all` answer is left to wait for replication on its own,
    /// so that the connection's next produce can append meanwhile.
    pub(super) async fn produce(self: &Arc<Self>, request: ProduceRequest) -> Produced {
        let deadline = Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
        let acks = ProduceAcks::from_wire(request.acks);
        let partitions: Vec<ProducePartition> = request
            .topic_data
            .iter()
            .flat_map(|topic| {
                topic.partition_data.iter().map(|data| ProducePartition {
                    partition: match acks {
                        None => Err(ErrorCode::InvalidRequiredAcks),
                        Some(_) => self.hosted_partition(topic.name.0.as_str(), data.index),
                    },
                    records: data.records.clone(),
                })
            })
            .collect();
        let appends = replica::append(acks.unwrap_or(ProduceAcks::Leader), partitions).await;
        if appends.awaits_replication() {
            let handlers = Arc::clone(self);
            return Produced::Replicating(Box::pin(async move {
                let outcomes = appends.outcomes(deadline).await;
                handlers.produce_response(&request, outcomes)
            }));
        }
        let outcomes = appends.outcomes(deadline).await;
        let response = self.produce_response(&request, outcomes);
        Produced::Answered((acks != Some(ProduceAcks::None)).then_some(response))
    }

    fn produce_response(&self, request: &ProduceRequest, outcomes: Vec<ProduceOutcome>) -> ProduceResponse {
        let mut outcomes = outcomes.into_iter();
        let image = self.metadata.image();
        let mut hints = LeaderHints::default();
        let responses = request
            .topic_data
            .iter()
            .map(|topic| {
                let partitions = topic
                    .partition_data
                    .iter()
                    .zip(outcomes.by_ref())
                    .map(|(data, outcome)| {
                        if let Some(appended) = &outcome.appended {
                            self.count_appended(&topic.name, data.records.as_ref(), appended);
                        }
                        let mut answer = partition_answer(data.index, &outcome);
                        if outcome.result == Err(ErrorCode::NotLeaderOrFollower)
                            && let Some(leader) =
                                current_leader(&image, self.config.broker_id, topic.name.0.as_str(), data.index)
                        {
                            hints.add(leader.leader_id);
                            answer.current_leader = LeaderIdAndEpoch::default()
                                .with_leader_id(BrokerId(leader.leader_id))
                                .with_leader_epoch(leader.leader_epoch);
                        }
                        answer
                    })
                    .collect();
                TopicProduceResponse::default()
                    .with_name(topic.name.clone())
                    .with_partition_responses(partitions)
            })
            .collect();
        let node_endpoints = hints
            .endpoints(&image)
            .map(|b| {
                NodeEndpoint::default()
                    .with_node_id(b.id)
                    .with_host(b.host)
                    .with_port(b.port)
                    .with_rack(b.rack)
            })
            .collect();
        ProduceResponse::default()
            .with_responses(responses)
            .with_node_endpoints(node_endpoints)
    }

    /// Counts an append in the topic's metrics: its bytes and messages, or a duplicate
    /// (an idempotent retry answered from the log).
    fn count_appended(&self, topic: &TopicName, records: Option<&Bytes>, appended: &Appended) {
        let metrics = self.metrics.topic(topic);
        if appended.duplicate {
            metrics.duplicates_in.inc();
        } else {
            metrics.bytes_in.inc_by(records.map_or(0, |r| r.len()) as u64);
            metrics
                .messages_in
                .inc_by((appended.last_offset - appended.base_offset + 1) as u64);
        }
    }
}

/// One partition's wire answer: the acknowledged base offset and (for
/// `message.timestamp.type=LogAppendTime`) the time stamped, or the error with -1 for both.
fn partition_answer(index: i32, outcome: &ProduceOutcome) -> PartitionProduceResponse {
    let answer = PartitionProduceResponse::default()
        .with_index(index)
        .with_log_start_offset(outcome.log_start_offset);
    match outcome.result {
        Ok(base_offset) => answer
            .with_base_offset(base_offset)
            .with_log_append_time_ms(outcome.appended.as_ref().map_or(-1, |a| a.log_append_time)),
        Err(code) => answer
            .with_error_code(code.code())
            .with_base_offset(-1)
            .with_log_append_time_ms(-1),
    }
}
