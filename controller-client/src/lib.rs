//! The broker side of the controller quorum (docs/architecture.md): [`ControllerClient`] sends requests to whichever
//! controller leads (following `NOT_CONTROLLER` redirects), [`BrokerSession`] registers a
//! broker, heart-beats and keeps a [`MetadataCache`] current through `WatchMetadata`.

mod connection;
mod lease;
mod metadata_cache;
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_protocol::rpc::{
    AlterConfigs, AlterPartition, AlterPartitionResult, Applied, CommitOffsets, CommittedOffset, ControllerAddress,
    ControllerRequest, ControllerResponse, CreatePartitions, CreateTopics, ElectLeaders, FetchOffsets, MetadataUpdate,
    OffsetResult, OngoingReassignment, PartitionResult, ProducerIdBlock, QuorumInfo, ReassignPartition, ResourceResult,
    RpcError, TopicResult,
};
use tokio::sync::mpsc;

pub use connection::ConnectionLost;
use connection::{Answer, Connection};
pub use metadata_cache::MetadataCache;
pub use session::{BrokerSession, BrokerSessionConfig};

use brook_server_kit::voters::address_string;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The controller answered with an error (a Kafka error code, usually).
    #[error(transparent)]
    Rpc(RpcError),
    /// No controller answered in time; the last problem met is attached.
    #[error("no controller answered within {timeout:?}: {last}")]
    Timeout { timeout: Duration, last: String },
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// The Kafka error code carried, if the controller refused with one.
    pub fn kafka_code(&self) -> Option<i16> {
        match self {
            ClientError::Rpc(RpcError::Kafka { code, .. }) => Some(*code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long one call keeps retrying (leader changes, reconnects) before failing.
    pub request_timeout: Duration,
    /// How long one attempt waits for its answer. Past it the connection is given up
    /// (a controller that is cut off never answers, and TCP would not say so for
    /// minutes) and the call tries the next controller.
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(50),
        }
    }
}

struct Route {
    connection: Option<Arc<Connection>>,
    /// Where to connect next: the leader named by a redirect, else the next voter.
    next: Option<ControllerAddress>,
    rotation: usize,
}

pub struct ControllerClient {
    voters: Vec<ControllerAddress>,
    options: ClientOptions,
    route: parking_lot::Mutex<Route>,
}

/// A live `WatchMetadata` stream; ends when the connection or the leadership does.
pub struct MetadataStream {
    /// The first answer, read to learn whether the watch was accepted.
    first: Option<Answer>,
    answers: mpsc::Receiver<Answer>,
    _connection: Arc<Connection>,
}

impl MetadataStream {
    /// The next update; `None` when the stream ended (watch again from the cache's
    /// version), `Some(Err)` when the controller refused it.
    pub async fn next(&mut self) -> Option<Result<MetadataUpdate, RpcError>> {
        let answer = match self.first.take() {
            Some(first) => first,
            None => self.answers.recv().await?,
        };
        match answer {
            Ok(ControllerResponse::Metadata(update)) => Some(Ok(update)),
            Ok(other) => Some(Err(RpcError::Internal(format!("unexpected watch answer {other:?}")))),
            Err(error) => Some(Err(error)),
        }
    }
}

impl ControllerClient {
    pub fn new(voters: Vec<ControllerAddress>, options: ClientOptions) -> Self {
        ControllerClient {
            voters,
            options,
            route: parking_lot::Mutex::new(Route {
                connection: None,
                next: None,
                rotation: 0,
            }),
        }
    }

    /// The connection to the current controller, made if needed, connecting for at most
    /// the connect timeout and never past `deadline` (a heartbeat must not spend its
    /// interval on a controller that is cut off). The lock is never held while
    /// connecting; if two callers race, the first connection installed wins.
    async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>, String> {
        let target = {
            let mut route = self.route.lock();
            if let Some(connection) = &route.connection
                && !connection.is_closed()
            {
                return Ok(Arc::clone(connection));
            }
            match route.next.take() {
                Some(leader) => leader,
                None if self.voters.is_empty() => return Err("no controller addresses configured".into()),
                None => {
                    route.rotation = route.rotation.wrapping_add(1);
                    self.voters[route.rotation % self.voters.len()].clone()
                }
            }
        };
        let connect_timeout = self
            .options
            .connect_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let connection = Connection::connect(&address_string(&target), connect_timeout)
            .await
            .map_err(|e| e.to_string())?;
        let mut route = self.route.lock();
        if let Some(existing) = &route.connection
            && !existing.is_closed()
        {
            return Ok(Arc::clone(existing));
        }
        let connection = Arc::new(connection);
        route.connection = Some(Arc::clone(&connection));
        Ok(connection)
    }

    /// Forgets the connection; the next call goes to `leader` if known. A leader that is
    /// one of our voters is reached at the address we were given for it, not the one it
    /// announces: the path to it may differ from ours (NAT, a proxy).
    fn reroute(&self, failed: &Arc<Connection>, leader: Option<ControllerAddress>) {
        let mut route = self.route.lock();
        if route.connection.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            route.connection = None;
        }
        route.next = leader.map(|leader| {
            self.voters
                .iter()
                .find(|v| v.node_id == leader.node_id)
                .cloned()
                .unwrap_or(leader)
        });
    }

    /// Sends `body` to the leader, retrying across redirects and reconnects until
    /// `timeout`, each attempt waiting at most `attempt_timeout` (and never past the
    /// call's deadline) for its answer.
    async fn call_within(
        &self,
        body: ControllerRequest,
        timeout: Duration,
        attempt_timeout: Duration,
    ) -> Result<ControllerResponse, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            match self.connection(deadline).await {
                Ok(connection) => match self.attempt(&connection, &body, deadline, attempt_timeout).await {
                    Ok(Ok(response)) => return Ok(response),
                    Ok(Err(RpcError::NotController { leader })) => {
                        last = format!("not the controller (leader: {leader:?})");
                        let known = leader.is_some();
                        self.reroute(&connection, leader);
                        if known {
                            continue;
                        }
                    }
                    Ok(Err(error)) => return Err(ClientError::Rpc(error)),
                    Err(lost) => {
                        last = lost.to_string();
                        self.reroute(&connection, None);
                    }
                },
                Err(error) => last = error,
            }
            tokio::time::sleep(self.options.retry_backoff).await;
        }
        Err(ClientError::Timeout { timeout, last })
    }

    /// One request on `connection`; one unanswered within its time closes the
    /// connection, for every user of it.
    async fn attempt(
        &self,
        connection: &Arc<Connection>,
        body: &ControllerRequest,
        deadline: Instant,
        attempt_timeout: Duration,
    ) -> Result<Answer, ConnectionLost> {
        let wait = attempt_timeout.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, connection.request(body.clone())).await {
            Ok(answer) => answer,
            Err(_) => {
                connection.close();
                Err(ConnectionLost(format!("no answer within {wait:?}")))
            }
        }
    }

    pub async fn call(&self, body: ControllerRequest) -> Result<ControllerResponse, ClientError> {
        self.call_within(body, self.options.request_timeout, self.options.attempt_timeout)
            .await
    }

    /// Starts a metadata watch on the leader, from `since_version`.
    pub async fn watch(&self, broker_id: i32, since_version: u64) -> Result<MetadataStream, ClientError> {
        let deadline = Instant::now() + self.options.request_timeout;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            match self.connection(deadline).await {
                Ok(connection) => {
                    let request = ControllerRequest::WatchMetadata {
                        broker_id,
                        since_version,
                    };
                    let first = async {
                        let mut answers = connection.stream(request).await?;
                        let wait = self
                            .options
                            .attempt_timeout
                            .min(deadline.saturating_duration_since(Instant::now()));
                        match tokio::time::timeout(wait, answers.recv()).await {
                            Ok(first) => Ok((answers, first)),
                            Err(_) => {
                                connection.close();
                                Err(ConnectionLost(format!("no answer within {wait:?}")))
                            }
                        }
                    };
                    match first.await {
                        Ok((answers, first)) => match first {
                            Some(Ok(first)) => {
                                return Ok(MetadataStream {
                                    first: Some(Ok(first)),
                                    answers,
                                    _connection: connection,
                                });
                            }
                            Some(Err(RpcError::NotController { leader })) => {
                                last = format!("not the controller (leader: {leader:?})");
                                self.reroute(&connection, leader);
                            }
                            Some(Err(error)) => return Err(ClientError::Rpc(error)),
                            None => {
                                last = "connection closed".into();
                                self.reroute(&connection, None);
                            }
                        },
                        Err(lost) => {
                            last = lost.to_string();
                            self.reroute(&connection, None);
                        }
                    }
                }
                Err(error) => last = error,
            }
            tokio::time::sleep(self.options.retry_backoff).await;
        }
        Err(ClientError::Timeout {
            timeout: self.options.request_timeout,
            last,
        })
    }

    pub async fn create_topics(&self, request: CreateTopics) -> Result<Applied<Vec<TopicResult>>, ClientError> {
        match self.call(ControllerRequest::CreateTopics(request)).await? {
            ControllerResponse::CreateTopics(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    pub async fn delete_topics(&self, names: Vec<String>) -> Result<Applied<Vec<TopicResult>>, ClientError> {
        match self.call(ControllerRequest::DeleteTopics { names }).await? {
            ControllerResponse::DeleteTopics(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    pub async fn create_partitions(&self, request: CreatePartitions) -> Result<Applied<Vec<TopicResult>>, ClientError> {
        match self.call(ControllerRequest::CreatePartitions(request)).await? {
            ControllerResponse::CreatePartitions(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    pub async fn alter_configs(&self, request: AlterConfigs) -> Result<Applied<Vec<ResourceResult>>, ClientError> {
        match self.call(ControllerRequest::AlterConfigs(request)).await? {
            ControllerResponse::AlterConfigs(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    pub async fn alter_partition(&self, request: AlterPartition) -> Result<Vec<AlterPartitionResult>, ClientError> {
        match self.call(ControllerRequest::AlterPartition(request)).await? {
            ControllerResponse::AlterPartition(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    pub async fn commit_offsets(&self, groups: Vec<CommitOffsets>) -> Result<Vec<Vec<OffsetResult>>, ClientError> {
        match self.call(ControllerRequest::CommitOffsets(groups)).await? {
            ControllerResponse::CommitOffsets(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    pub async fn fetch_offsets(&self, groups: Vec<FetchOffsets>) -> Result<Vec<Vec<CommittedOffset>>, ClientError> {
        match self.call(ControllerRequest::FetchOffsets(groups)).await? {
            ControllerResponse::FetchOffsets(offsets) => Ok(offsets),
            other => Err(unexpected(other)),
        }
    }

    pub async fn delete_offsets(&self, groups: Vec<FetchOffsets>) -> Result<Vec<Vec<OffsetResult>>, ClientError> {
        match self.call(ControllerRequest::DeleteOffsets(groups)).await? {
            ControllerResponse::DeleteOffsets(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    /// The groups that have committed offsets.
    pub async fn list_offset_groups(&self) -> Result<Vec<String>, ClientError> {
        match self.call(ControllerRequest::ListOffsetGroups).await? {
            ControllerResponse::OffsetGroups(groups) => Ok(groups),
            other => Err(unexpected(other)),
        }
    }

    /// A fresh block of producer ids for this broker (its current epoch proves it is
    /// the registered incarnation).
    pub async fn allocate_producer_ids(
        &self,
        broker_id: i32,
        broker_epoch: i64,
    ) -> Result<ProducerIdBlock, ClientError> {
        let request = ControllerRequest::AllocateProducerIds {
            broker_id,
            broker_epoch,
        };
        match self.call(request).await? {
            ControllerResponse::ProducerIds(block) => Ok(block),
            other => Err(unexpected(other)),
        }
    }

    pub async fn alter_reassignments(
        &self,
        requests: Vec<ReassignPartition>,
    ) -> Result<Vec<PartitionResult>, ClientError> {
        match self.call(ControllerRequest::AlterReassignments(requests)).await? {
            ControllerResponse::AlterReassignments(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    pub async fn list_reassignments(
        &self,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<Vec<OngoingReassignment>, ClientError> {
        match self.call(ControllerRequest::ListReassignments(partitions)).await? {
            ControllerResponse::ListReassignments(ongoing) => Ok(ongoing),
            other => Err(unexpected(other)),
        }
    }

    pub async fn elect_leaders(&self, request: ElectLeaders) -> Result<Applied<Vec<PartitionResult>>, ClientError> {
        match self.call(ControllerRequest::ElectLeaders(request)).await? {
            ControllerResponse::ElectLeaders(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    pub async fn describe_quorum(&self) -> Result<QuorumInfo, ClientError> {
        match self.call(ControllerRequest::DescribeQuorum).await? {
            ControllerResponse::DescribeQuorum(info) => Ok(info),
            other => Err(unexpected(other)),
        }
    }
}

fn unexpected(response: ControllerResponse) -> ClientError {
    ClientError::Unexpected(format!("{response:?}"))
}
