//! The Kafka listener: accepts connections and serves each on its own task.

pub mod connection;

use std::sync::Arc;

use brook_controller::accept_until;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use connection::ConnectionLimits;

use crate::handlers::Handlers;

/// Accepts until `stopping` turns true.
pub async fn listen(
    listener: TcpListener,
    handlers: Arc<Handlers>,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
) {
    accept_until(listener, stopping, |stream, peer, stopping| {
        let handlers = Arc::clone(&handlers);
        tokio::spawn(async move {
            if let Err(e) = connection::serve(stream, handlers, limits, stopping).await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    })
    .await;
}
