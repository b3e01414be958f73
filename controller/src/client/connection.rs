//! One multiplexed connection to a controller: requests carry correlation ids, a reader
//! task routes each answer to its caller (or to a watch stream), a writer task sends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use brook_protocol::rpc::{ControllerRequest, ControllerResponse, RPC_VERSION, RpcError, RpcRequest, RpcResponse};
use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::network::framed::{FrameReader, write_frame};

pub type Answer = Result<ControllerResponse, RpcError>;

enum Pending {
    Once(oneshot::Sender<Answer>),
    Stream(mpsc::Sender<Answer>),
}

/// The connection is gone (closed, reset, or never made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("controller connection lost: {0}")]
pub struct ConnectionLost(pub String);

pub struct Connection {
    outgoing: mpsc::Sender<RpcRequest>,
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    next_id: AtomicU64,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    pub async fn connect(address: &str, timeout: Duration) -> Result<Self, ConnectionLost> {
        let lost = |e: String| ConnectionLost(format!("{address}: {e}"));
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| lost("connect timed out".into()))?
            .map_err(|e| lost(e.to_string()))?;
        stream.set_nodelay(true).map_err(|e| lost(e.to_string()))?;
        let (read, mut write) = stream.into_split();
        let (outgoing, mut queue) = mpsc::channel::<RpcRequest>(256);
        let pending: Arc<Mutex<HashMap<u64, Pending>>> = Arc::default();
        let writer = tokio::spawn(async move {
            let mut buffer = BytesMut::new();
            while let Some(request) = queue.recv().await {
                if write_frame(&mut write, &mut buffer, &request).await.is_err() {
                    break;
                }
            }
        });
        let routes = Arc::clone(&pending);
        let reader = tokio::spawn(async move {
            let mut reader = FrameReader::new(read);
            while let Ok(Some(response)) = reader.read::<RpcResponse>().await {
                route(&routes, response).await;
            }
            // Dropping the senders tells every waiting caller the connection is gone.
            routes.lock().clear();
        });
        Ok(Connection {
            outgoing,
            pending,
            next_id: AtomicU64::new(1),
            tasks: [writer, reader],
        })
    }

    pub fn is_closed(&self) -> bool {
        self.outgoing.is_closed() || self.tasks[1].is_finished()
    }

    async fn send(&self, body: ControllerRequest, pending: Pending) -> Result<(), ConnectionLost> {
        let correlation_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().insert(correlation_id, pending);
        let request = RpcRequest {
            rpc_version: RPC_VERSION,
            correlation_id,
            body,
        };
        if self.outgoing.send(request).await.is_err() {
            self.pending.lock().remove(&correlation_id);
            return Err(ConnectionLost("writer stopped".into()));
        }
        Ok(())
    }

    pub async fn request(&self, body: ControllerRequest) -> Result<Answer, ConnectionLost> {
        let (reply, answer) = oneshot::channel();
        self.send(body, Pending::Once(reply)).await?;
        answer
            .await
            .map_err(|_| ConnectionLost("closed before the answer".into()))
    }

    /// A request answered many times (WatchMetadata); the receiver ends with the
    /// connection.
    pub async fn stream(&self, body: ControllerRequest) -> Result<mpsc::Receiver<Answer>, ConnectionLost> {
        let (sender, receiver) = mpsc::channel(64);
        self.send(body, Pending::Stream(sender)).await?;
        Ok(receiver)
    }
}

async fn route(pending: &Mutex<HashMap<u64, Pending>>, response: RpcResponse) {
    let id = response.correlation_id;
    let stream = {
        let mut pending = pending.lock();
        match pending.remove(&id) {
            Some(Pending::Once(reply)) => {
                let _ = reply.send(response.body);
                return;
            }
            Some(Pending::Stream(sender)) => {
                if response.body.is_ok() {
                    pending.insert(id, Pending::Stream(sender.clone()));
                }
                sender
            }
            None => return,
        }
    };
    // Outside the lock: a slow watcher holds back this connection, not the map.
    let _ = stream.send(response.body).await;
}
