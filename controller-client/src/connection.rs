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

use brook_server_kit::framed::{FrameReader, write_frame};

pub type Answer = Result<ControllerResponse, RpcError>;

enum Pending {
    Once(oneshot::Sender<Answer>),
    Stream(mpsc::Sender<Answer>),
}

/// The connection is gone (closed, reset, or never made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("controller connection lost: {0}")]
pub struct ConnectionLost(pub String);

/// The callers waiting for answers. `open` turns false, under the same lock, when the
/// reader stops: a request registered after that would never be answered, so it is
/// refused instead (the peer can close a connection the moment it is made, as a proxy
/// whose target is down does).
struct Routes {
    open: bool,
    pending: HashMap<u64, Pending>,
}

pub struct Connection {
    outgoing: mpsc::Sender<RpcRequest>,
    routes: Arc<Mutex<Routes>>,
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
        let routes = Arc::new(Mutex::new(Routes {
            open: true,
            pending: HashMap::new(),
        }));
        let writer = tokio::spawn(async move {
            let mut buffer = BytesMut::new();
            while let Some(request) = queue.recv().await {
                if write_frame(&mut write, &mut buffer, &request).await.is_err() {
                    break;
                }
            }
        });
        let reading = Arc::clone(&routes);
        let reader = tokio::spawn(async move {
            let mut reader = FrameReader::new(read);
            while let Ok(Some(response)) = reader.read::<RpcResponse>().await {
                route(&reading, response).await;
            }
            // Dropping the senders tells every waiting caller the connection is gone.
            let mut routes = reading.lock();
            routes.open = false;
            routes.pending.clear();
        });
        Ok(Connection {
            outgoing,
            routes,
            next_id: AtomicU64::new(1),
            tasks: [writer, reader],
        })
    }

    pub fn is_closed(&self) -> bool {
        self.outgoing.is_closed() || self.tasks[1].is_finished() || !self.routes.lock().open
    }

    /// Gives the connection up (a request on it went unanswered past its deadline, so
    /// the peer is likely gone or cut off): every caller still waiting on it, and every
    /// watch stream, ends at once instead of hanging on a dead socket.
    pub fn close(&self) {
        {
            let mut routes = self.routes.lock();
            routes.open = false;
            routes.pending.clear();
        }
        for task in &self.tasks {
            task.abort();
        }
    }

    async fn send(&self, body: ControllerRequest, pending: Pending) -> Result<(), ConnectionLost> {
        let correlation_id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut routes = self.routes.lock();
            if !routes.open {
                return Err(ConnectionLost("closed".into()));
            }
            routes.pending.insert(correlation_id, pending);
        }
        let request = RpcRequest {
            rpc_version: RPC_VERSION,
            correlation_id,
            body,
        };
        if self.outgoing.send(request).await.is_err() {
            self.routes.lock().pending.remove(&correlation_id);
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

async fn route(routes: &Mutex<Routes>, response: RpcResponse) {
    let id = response.correlation_id;
    let stream = {
        let mut routes = routes.lock();
        let pending = &mut routes.pending;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer that closes the connection the moment it is made (a proxy whose target is
    /// down does): a request sent afterwards fails at once instead of waiting forever.
    #[tokio::test]
    async fn a_request_on_a_connection_already_closed_fails_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let closer = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            drop(socket);
        });
        let connection = Connection::connect(&address, Duration::from_secs(5)).await.unwrap();
        closer.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while !connection.is_closed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the reader notices the close");
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            connection.request(ControllerRequest::DescribeQuorum),
        )
        .await;
        assert!(matches!(answer, Ok(Err(ConnectionLost(_)))), "{answer:?}");
    }
}
