//! The internal RPC listener: one task per connection reading requests, each request
//! answered by its own task (a watch lives as long as the connection), and one writer
//! per connection. The number of requests in flight per connection is bounded, so a
//! client that sends without reading stalls itself, not the node.

use std::sync::Arc;
use std::time::Duration;

use brook_protocol::rpc::{RPC_VERSION, RpcError, RpcRequest, RpcResponse};
use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

use brook_server_kit::accept::{AcceptLimits, accept_until};
use brook_server_kit::framed::{FrameReader, write_frame};

use super::ControllerService;

const MAX_IN_FLIGHT_PER_CONNECTION: usize = 128;
const REPLY_QUEUE: usize = 256;
/// Brokers (a controller connection and a metadata watch each), the other voters and
/// admin tools: far fewer than this in any cluster Brook is built for.
const ACCEPT_LIMITS: AcceptLimits = AcceptLimits {
    max_connections: 4096,
    drain_timeout: Duration::from_secs(2),
};

/// Accepts connections until `stopping` turns true; then every connection closes, so
/// clients move to another controller instead of talking to a stopped one, and this
/// returns once they have.
pub async fn serve(listener: TcpListener, service: Arc<ControllerService>, stopping: watch::Receiver<bool>) {
    accept_until(listener, stopping, ACCEPT_LIMITS, |stream, peer, stopping| {
        let service = Arc::clone(&service);
        async move {
            if let Err(e) = connection(stream, service, stopping).await {
                tracing::debug!(%peer, error = %e, "controller connection closed");
            }
        }
    })
    .await;
}

async fn connection(
    stream: TcpStream,
    service: Arc<ControllerService>,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let (replies, mut outgoing) = mpsc::channel::<RpcResponse>(REPLY_QUEUE);
    let writer = tokio::spawn(async move {
        let mut buffer = BytesMut::new();
        while let Some(response) = outgoing.recv().await {
            if write_frame(&mut write, &mut buffer, &response).await.is_err() {
                break;
            }
        }
    });
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_CONNECTION));
    let mut reader = FrameReader::new(read);
    let outcome = loop {
        let read = tokio::select! {
            read = reader.read::<RpcRequest>() => read,
            _ = stopping.wait_for(|s| *s) => break Ok(()),
        };
        let request = match read {
            Ok(Some(request)) => request,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if request.rpc_version != RPC_VERSION {
            let refusal = RpcResponse {
                correlation_id: request.correlation_id,
                body: Err(RpcError::IncompatibleVersion {
                    peer: request.rpc_version,
                    ours: RPC_VERSION,
                }),
            };
            let _ = replies.send(refusal).await;
            continue;
        }
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let (service, replies) = (Arc::clone(&service), replies.clone());
        tokio::spawn(async move {
            service.handle(request.correlation_id, request.body, &replies).await;
            drop(permit);
        });
    };
    // The peer is gone: stop writing, which also ends its watches (their sends fail).
    writer.abort();
    outcome
}
