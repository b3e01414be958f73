//! The Kafka listener: accepts connections and serves each on its own task.

pub mod connection;

use std::sync::Arc;
use std::time::Duration;

use brook_server_kit::accept::{AcceptLimits, accept_until};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use connection::ConnectionLimits;

use crate::handlers::Handlers;

/// How long a shutdown waits for connections to answer what they hold. Requests that
/// wait on replicas are answered at once when the replica manager shuts down first; a
/// group join waiting for its rebalance is what can take this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts until `stopping` turns true, then returns once the open connections have
/// answered and closed (or after [`DRAIN_TIMEOUT`]).
pub async fn listen(
    listener: TcpListener,
    handlers: Arc<Handlers>,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
) {
    let accept = AcceptLimits {
        max_connections: limits.max_connections,
        drain_timeout: DRAIN_TIMEOUT,
    };
    accept_until(listener, stopping, accept, |stream, peer, stopping| {
        let handlers = Arc::clone(&handlers);
        async move {
            if let Err(e) = connection::serve(stream, handlers, limits, stopping).await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        }
    })
    .await;
}
