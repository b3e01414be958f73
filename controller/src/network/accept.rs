//! The accept loop both servers (controller RPC, broker Kafka) share.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Hands every accepted connection to `serve` until `stopping` turns true. An accept error
/// (e.g. out of file descriptors) is logged and retried after a pause, never fatal.
pub async fn accept_until(
    listener: TcpListener,
    stopping: watch::Receiver<bool>,
    mut serve: impl FnMut(TcpStream, SocketAddr, watch::Receiver<bool>),
) {
    loop {
        let mut stop = stopping.clone();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, peer)) => serve(stream, peer, stopping.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
