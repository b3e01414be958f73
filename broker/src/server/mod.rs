//! The Kafka listener: accepts connections and serves each on its own task.

pub mod connection;

use std::sync::Arc;

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
    loop {
        let mut stop = stopping.clone();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (handlers, stopping) = (Arc::clone(&handlers), stopping.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection::serve(stream, handlers, limits, stopping).await {
                        tracing::debug!(%peer, error = %e, "connection closed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
