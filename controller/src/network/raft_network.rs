//! openraft's network: Raft RPCs to other controllers over the internal RPC port.
//!
//! Each Raft message is postcard-encoded into a [`RaftMessage`] inside an ordinary
//! [`RpcRequest`]; the peer answers with the remote call's `Result`, also encoded. One
//! connection per replication stream, opened lazily and dropped on any error so the
//! next call reconnects.

use std::io;
use std::time::Duration;

use brook_protocol::rpc::{ControllerRequest, ControllerResponse, RPC_VERSION, RaftMessage, RpcRequest, RpcResponse};
use bytes::BytesMut;
use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::peer_times::{PeerClock, now_millis};
use crate::raft::types::{NodeId, TypeConfig};
use brook_server_kit::framed::{FrameReader, write_frame};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RaftNetworkFactoryImpl {
    /// Each follower's answer times, for DescribeQuorum.
    pub clock: PeerClock,
    /// openraft's `max_payload_entries`: an AppendEntries with fewer entries carried
    /// everything the leader had when it was sent.
    pub max_payload_entries: u64,
}

impl RaftNetworkFactory<TypeConfig> for RaftNetworkFactoryImpl {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            target,
            address: node.addr.clone(),
            connection: None,
            buffer: BytesMut::new(),
            next_correlation_id: 0,
            clock: self.clock.clone(),
            max_payload_entries: self.max_payload_entries,
        }
    }
}

struct Connection {
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

pub struct PeerConnection {
    target: NodeId,
    address: String,
    connection: Option<Connection>,
    buffer: BytesMut,
    next_correlation_id: u64,
    clock: PeerClock,
    max_payload_entries: u64,
}

/// Why one call failed: the peer could not be reached, or it answered with an error.
enum CallError {
    Unreachable(io::Error),
    Network(io::Error),
}

impl PeerConnection {
    async fn connection(&mut self) -> Result<&mut Connection, CallError> {
        if self.connection.is_none() {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                .and_then(|r| r)
                .map_err(CallError::Unreachable)?;
            stream.set_nodelay(true).map_err(CallError::Unreachable)?;
            let (read, write) = stream.into_split();
            self.connection = Some(Connection {
                reader: FrameReader::new(read),
                writer: write,
            });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    /// Sends one Raft message and decodes the peer's `Result<Resp, Err>`.
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        wrap: fn(Vec<u8>) -> RaftMessage,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        let payload = postcard::to_stdvec(request).map_err(|e| CallError::Network(io::Error::other(e)))?;
        self.next_correlation_id += 1;
        let request = RpcRequest {
            rpc_version: RPC_VERSION,
            correlation_id: self.next_correlation_id,
            body: ControllerRequest::Raft(wrap(payload)),
        };
        let outcome = tokio::time::timeout(timeout, self.round_trip(&request)).await;
        let response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                self.connection = None;
                return Err(e);
            }
            Err(_) => {
                // The answer may still arrive later and would be mistaken for the next one.
                self.connection = None;
                return Err(CallError::Network(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "raft rpc timed out",
                )));
            }
        };
        let bytes = match response.body {
            Ok(ControllerResponse::Raft(
                RaftMessage::AppendEntries(bytes) | RaftMessage::Vote(bytes) | RaftMessage::InstallSnapshot(bytes),
            )) => bytes,
            Ok(other) => {
                return Err(CallError::Network(io::Error::other(format!(
                    "unexpected answer {other:?}"
                ))));
            }
            Err(e) => return Err(CallError::Network(io::Error::other(e.to_string()))),
        };
        postcard::from_bytes(&bytes).map_err(|e| CallError::Network(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    async fn round_trip(&mut self, request: &RpcRequest) -> Result<RpcResponse, CallError> {
        let mut buffer = std::mem::take(&mut self.buffer);
        let connection = self.connection().await?;
        let written = write_frame(&mut connection.writer, &mut buffer, request).await;
        let response = match written {
            Ok(()) => connection.reader.read::<RpcResponse>().await,
            Err(e) => Err(e),
        };
        self.buffer = buffer;
        match response {
            Ok(Some(response)) if response.correlation_id == request.correlation_id => Ok(response),
            Ok(Some(_)) => Err(CallError::Network(io::Error::other("response out of order"))),
            Ok(None) => Err(CallError::Network(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed",
            ))),
            Err(e) => Err(CallError::Network(e)),
        }
    }

    /// Maps a call's outcome onto openraft's error type (its size is openraft's choice).
    #[allow(clippy::result_large_err)]
    fn finish<Resp, E: std::error::Error>(
        &self,
        outcome: Result<Result<Resp, E>, CallError>,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>> {
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new(self.target, remote))),
            Err(CallError::Unreachable(e)) => Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(CallError::Network(e)) => Err(RPCError::Network(NetworkError::new(&e))),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let sent = now_millis();
        let complete = (rpc.entries.len() as u64) < self.max_payload_entries;
        let outcome = self.call(RaftMessage::AppendEntries, &rpc, option.hard_ttl()).await;
        match &outcome {
            Ok(Ok(AppendEntriesResponse::Success)) => self.clock.record(self.target, sent, complete),
            Ok(Ok(AppendEntriesResponse::PartialSuccess(_))) => self.clock.record(self.target, sent, false),
            _ => {}
        }
        self.finish(outcome)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        let outcome = self.call(RaftMessage::InstallSnapshot, &rpc, option.hard_ttl()).await;
        self.finish(outcome)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let outcome = self.call(RaftMessage::Vote, &rpc, option.hard_ttl()).await;
        self.finish(outcome)
    }
}
