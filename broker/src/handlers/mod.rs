//! Kafka request handlers, one module per API family. The connection hands a frame to
//! [`Handlers::handle`] and writes back what it returns.

mod broker_configs;
mod cluster;
mod configs;
mod fetch;
mod group_admin;
mod group_offsets;
mod groups;
mod leader_hint;
mod log_dirs;
mod log_offsets;
mod metadata;
mod produce;
mod producers;
mod reassignments;
mod sasl;
mod topic_partitions;
mod topics;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use brook_controller_client::{ClientError, ControllerClient, MetadataCache};
use brook_protocol::codec::{RequestError, decode_request, encode_response, encode_unsupported_api_versions};
use brook_protocol::messages::BrokerId;
use brook_protocol::messages::{RequestKind, ResponseKind};
use brook_protocol::rpc::metadata::{BrokerRegistration, MetadataImage};
use brook_protocol::{ApiKey, ErrorCode, StrBytes};
use bytes::{Bytes, BytesMut};

use crate::config::BrokerConfig;
use crate::groups::GroupCoordinator;
use crate::metrics::BrokerMetrics;
use crate::producer_ids::ProducerIdAllocator;
use crate::replica::{Partition, ReplicaManager};
use produce::Produced;

/// Kafka's error code 0.
pub(crate) const NO_ERROR: i16 = 0;
/// Kafka's number for a domain outcome (`None`: success). Inside the broker errors are
/// `ErrorCode`s; they become numbers only here, at the wire.
pub(crate) fn wire_code(error: Option<ErrorCode>) -> i16 {
    error.map_or(NO_ERROR, |e| e.code())
}

/// The longest an admin answer waits for this broker's metadata to show its change.
const METADATA_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the connection does after a request.
pub enum Reply {
    /// Write these pieces, in order, as the response frame.
    Send(Vec<Bytes>),
    /// Nothing to write (a Produce with `acks=0`).
    Nothing,
    /// Write what this yields once it is ready (an `acks=all` Produce waiting for its
    /// followers); `None`: close the connection instead. Later requests on the
    /// connection may be handled meanwhile; their responses follow this one.
    Later(Pin<Box<dyn Future<Output = Option<Vec<Bytes>>> + Send>>),
    /// The request cannot be answered: close the connection, as Kafka does.
    Close,
}

pub struct Handlers {
    pub(crate) config: Arc<BrokerConfig>,
    pub(crate) replicas: Arc<ReplicaManager>,
    pub(crate) controller: Arc<ControllerClient>,
    pub(crate) metadata: MetadataCache,
    pub(crate) metrics: Arc<BrokerMetrics>,
    pub(crate) groups: Arc<GroupCoordinator>,
    pub(crate) producer_ids: ProducerIdAllocator,
}

/// A controller that cannot be reached is a retriable error for the client.
pub(crate) fn unreachable(error: &ClientError) -> (i16, Option<StrBytes>) {
    (unreachable_code(error), Some(StrBytes::from_string(error.to_string())))
}

/// The code for an admin change the controller did not apply: the Kafka code it refused
/// with, or `REQUEST_TIMED_OUT` (retriable) when it did not answer.
pub(crate) fn unreachable_code(error: &ClientError) -> i16 {
    error.kafka_code().unwrap_or(ErrorCode::RequestTimedOut.code())
}

impl Handlers {
    /// The partition if this broker hosts it, else the error a client gets: the topic
    /// exists but lives elsewhere (`NOT_LEADER_OR_FOLLOWER`), or it does not exist. The
    /// metadata is consulted only on that error path.
    pub(crate) fn hosted_partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, ErrorCode> {
        self.replicas.get(topic, partition).ok_or_else(|| {
            if self.metadata.image().topic_by_name(topic).is_some() {
                ErrorCode::NotLeaderOrFollower
            } else {
                ErrorCode::UnknownTopicOrPartition
            }
        })
    }

    /// Waits until this broker's metadata has reached `version`, the one the controller
    /// answered an admin change with: the change is then visible to the client's next
    /// request here, which admin clients send right after (describe after create). A
    /// few seconds at most: a broker whose watch is cut answers anyway.
    pub(crate) async fn until_metadata_reaches(&self, version: u64) {
        let _ = tokio::time::timeout(METADATA_WAIT, self.metadata.wait_for_version(version)).await;
    }

    /// The partition if this broker hosts and leads it, else the error to answer.
    pub(crate) fn led_partition(&self, topic: &str, partition: i32) -> Result<Arc<Partition>, ErrorCode> {
        let hosted = self.hosted_partition(topic, partition)?;
        if hosted.is_leader() {
            Ok(hosted)
        } else {
            Err(ErrorCode::NotLeaderOrFollower)
        }
    }
}

/// Answers a request partition by partition, its topics and their partitions in the
/// request's order: `answer` answers one partition of a topic, `topic` wraps one topic's
/// answers into the response's topic entry.
pub(crate) fn per_partition<T, P, A, R>(
    topics: &[T],
    partitions_of: impl Fn(&T) -> &[P],
    mut answer: impl FnMut(&T, &P) -> A,
    mut topic: impl FnMut(&T, Vec<A>) -> R,
) -> Vec<R> {
    let mut answered = Vec::with_capacity(topics.len());
    for t in topics {
        let answers = partitions_of(t).iter().map(|p| answer(t, p)).collect();
        answered.push(topic(t, answers));
    }
    answered
}

/// A broker as clients reach it (Metadata, DescribeCluster).
pub(crate) struct LiveBroker {
    pub id: BrokerId,
    pub host: StrBytes,
    pub port: i32,
    pub rack: Option<StrBytes>,
}

pub(crate) fn live_brokers(image: &MetadataImage) -> Vec<LiveBroker> {
    image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .filter_map(reachable_at)
        .collect()
}

/// A registered broker as clients reach it (its first listener), if it has one.
pub(crate) fn reachable_at(b: &BrokerRegistration) -> Option<LiveBroker> {
    let endpoint = b.endpoints.first()?;
    Some(LiveBroker {
        id: BrokerId(b.broker_id),
        host: StrBytes::from_string(endpoint.host.clone()),
        port: i32::from(endpoint.port),
        rack: b.rack.clone().map(StrBytes::from_string),
    })
}

/// The broker named as "controller" (where admin requests go): this one, which forwards
/// them to the quorum, unless it is not live; it is always one of `brokers` (librdkafka
/// looks it up there), or -1.
pub(crate) fn admin_broker(me: i32, brokers: &[LiveBroker]) -> BrokerId {
    if brokers.iter().any(|b| b.id.0 == me) {
        BrokerId(me)
    } else {
        brokers.first().map_or(BrokerId(-1), |b| b.id)
    }
}

fn encode(api_key: ApiKey, version: i16, correlation_id: i32, body: &ResponseKind) -> Reply {
    let mut buf = BytesMut::with_capacity(256);
    match encode_response(&mut buf, api_key, version, correlation_id, body) {
        Ok(()) => Reply::Send(vec![buf.freeze()]),
        Err(e) => {
            tracing::error!(?api_key, version, error = %e, "cannot encode a response");
            Reply::Close
        }
    }
}

/// The client on the other end of a connection.
pub struct Peer {
    /// Its address as Kafka prints it in DescribeGroups (`/127.0.0.1`).
    pub host: String,
}

impl Peer {
    pub fn new(address: Option<std::net::SocketAddr>) -> Self {
        Peer {
            host: address.map_or_else(String::new, |a| format!("/{}", a.ip())),
        }
    }
}

impl Handlers {
    pub async fn handle(self: &Arc<Self>, frame: Bytes, peer: &Peer) -> Reply {
        let request = match decode_request(&frame) {
            Ok(request) => request,
            Err(RequestError::Header(e)) => {
                tracing::debug!(error = %e, "unreadable request header");
                return Reply::Close;
            }
            Err(RequestError::Refused { header, error }) => {
                // KIP-511: an ApiVersions of a version we do not know still gets the table.
                if header.api_key == ApiKey::ApiVersions as i16 {
                    let mut buf = BytesMut::new();
                    return match encode_unsupported_api_versions(&mut buf, header.correlation_id) {
                        Ok(()) => Reply::Send(vec![buf.freeze()]),
                        Err(_) => Reply::Close,
                    };
                }
                tracing::debug!(api_key = header.api_key, version = header.api_version, %error, "request refused");
                return Reply::Close;
            }
        };
        let (api_key, version, correlation_id) = (
            request.api_key,
            request.header.api_version,
            request.header.correlation_id,
        );
        // Borrowed, not copied: only JoinGroup uses it, and every request passes here.
        let client_id = request.header.client_id.as_deref().unwrap_or("");
        let body = match request.body {
            RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(brook_protocol::api::with_features(
                brook_protocol::api::api_versions_response(None),
                self.metadata.image().version as i64,
            )),
            RequestKind::Metadata(r) => ResponseKind::Metadata(self.metadata(r, version).await),
            RequestKind::Produce(r) => match self.produce(r).await {
                Produced::Answered(Some(response)) => ResponseKind::Produce(response),
                Produced::Answered(None) => return Reply::Nothing,
                Produced::Replicating(answer) => {
                    return Reply::Later(Box::pin(async move {
                        let body = ResponseKind::Produce(answer.await);
                        match encode(api_key, version, correlation_id, &body) {
                            Reply::Send(pieces) => Some(pieces),
                            _ => None,
                        }
                    }));
                }
            },
            RequestKind::Fetch(r) => return Reply::Send(self.fetch(r, version, correlation_id).await),
            RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(self.list_offsets(r, version)),
            RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(self.create_topics(r).await),
            RequestKind::DeleteTopics(r) => ResponseKind::DeleteTopics(self.delete_topics(r).await),
            RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(self.create_partitions(r).await),
            RequestKind::DescribeConfigs(r) => ResponseKind::DescribeConfigs(self.describe_configs(r, version)),
            RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(self.alter_configs(r).await),
            RequestKind::IncrementalAlterConfigs(r) => {
                ResponseKind::IncrementalAlterConfigs(self.incremental_alter_configs(r).await)
            }
            RequestKind::DescribeCluster(r) => ResponseKind::DescribeCluster(self.describe_cluster(&r)),
            RequestKind::DescribeQuorum(r) => ResponseKind::DescribeQuorum(self.describe_quorum(r, version).await),
            RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(self.offset_for_leader_epoch(r)),
            RequestKind::DeleteRecords(r) => ResponseKind::DeleteRecords(self.delete_records(r).await),
            RequestKind::FindCoordinator(r) => ResponseKind::FindCoordinator(self.find_coordinator(r, version)),
            RequestKind::JoinGroup(r) => {
                ResponseKind::JoinGroup(self.join_group(r, version, (client_id, &peer.host)).await)
            }
            RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(self.sync_group(r, version).await),
            RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(self.heartbeat(r)),
            RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(self.leave_group(r, version)),
            RequestKind::OffsetCommit(r) => ResponseKind::OffsetCommit(self.offset_commit(r).await),
            RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(self.offset_fetch(r, version).await),
            RequestKind::OffsetDelete(r) => ResponseKind::OffsetDelete(self.offset_delete(r).await),
            RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(self.describe_groups(r, version).await),
            RequestKind::ListGroups(r) => ResponseKind::ListGroups(self.list_groups(r, version).await),
            RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(self.delete_groups(r).await),
            RequestKind::InitProducerId(r) => ResponseKind::InitProducerId(self.init_producer_id(r).await),
            RequestKind::SaslHandshake(r) => ResponseKind::SaslHandshake(self.sasl_handshake(r)),
            RequestKind::SaslAuthenticate(r) => ResponseKind::SaslAuthenticate(self.sasl_authenticate(r)),
            RequestKind::AlterPartitionReassignments(r) => {
                ResponseKind::AlterPartitionReassignments(self.alter_partition_reassignments(r).await)
            }
            RequestKind::ListPartitionReassignments(r) => {
                ResponseKind::ListPartitionReassignments(self.list_partition_reassignments(r).await)
            }
            RequestKind::ElectLeaders(r) => ResponseKind::ElectLeaders(self.elect_leaders(r, version).await),
            RequestKind::DescribeLogDirs(r) => ResponseKind::DescribeLogDirs(self.describe_log_dirs(r)),
            RequestKind::AlterReplicaLogDirs(r) => {
                ResponseKind::AlterReplicaLogDirs(self.alter_replica_log_dirs(r).await)
            }
            RequestKind::DescribeTopicPartitions(r) => {
                ResponseKind::DescribeTopicPartitions(self.describe_topic_partitions(r))
            }
            other => {
                tracing::debug!(?api_key, "not served: closing the connection");
                drop(other);
                return Reply::Close;
            }
        };
        encode(api_key, version, correlation_id, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(id: i32) -> LiveBroker {
        LiveBroker {
            id: BrokerId(id),
            host: StrBytes::from_static_str("h"),
            port: 1,
            rack: None,
        }
    }

    #[test]
    fn the_admin_broker_is_always_a_listed_one() {
        assert_eq!(admin_broker(2, &[live(1), live(2)]), BrokerId(2));
        assert_eq!(
            admin_broker(3, &[live(1), live(2)]),
            BrokerId(1),
            "this broker is fenced"
        );
        assert_eq!(admin_broker(3, &[]), BrokerId(-1));
    }
}
