//! The accept loop every Brook server shares (the Kafka listener, the controller's RPC
//! port, the metrics endpoint), in the manner of mini-redis's listener: a bounded number
//! of open connections, and a shutdown that stops accepting and then waits for the open
//! connections to finish what they are doing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};

/// Pause after a failed accept (e.g. out of file descriptors) before trying again, so a
/// persistent error costs a log line every so often instead of a spinning core.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
pub struct AcceptLimits {
    /// Connections open at once; at the limit the next one waits in the kernel's backlog
    /// until another closes (Kafka's `max.connections`).
    pub max_connections: usize,
    /// How long a shutdown waits for open connections to end before it goes on anyway.
    pub drain_timeout: Duration,
}

/// Hands every accepted connection to `serve`, whose future runs on a task of its own,
/// until `stopping` turns true (or its sender is gone). Then the listener closes, so new
/// clients are refused at once, and this returns when every connection it handed out has
/// ended, or after `limits.drain_timeout`. `serve` gets `stopping` too: a connection
/// should finish the request in hand and close when it turns true.
pub async fn accept_until<F, Fut>(
    listener: TcpListener,
    stopping: watch::Receiver<bool>,
    limits: AcceptLimits,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let capacity = limits.max_connections.min(Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(capacity));
    // Every connection task holds a sender; the receiver sees the end once all are gone.
    let (open, mut drained) = mpsc::channel::<()>(1);
    let mut stop = stopping.clone();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = serve(stream, peer, stopping.clone());
                let open = open.clone();
                tokio::spawn(async move {
                    connection.await;
                    drop(permit);
                    drop(open);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
    drop(listener);
    drop(open);
    let open_connections = capacity - permits.available_permits();
    if open_connections > 0 {
        tracing::debug!(open_connections, "waiting for connections to finish");
    }
    if tokio::time::timeout(limits.drain_timeout, drained.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?limits.drain_timeout,
            "connections still open after the drain timeout; stopping anyway"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Echoes one byte, then holds the connection until `stopping`, counting how many
    /// connections are open at once.
    async fn start(
        limits: AcceptLimits,
    ) -> (
        SocketAddr,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
        Arc<AtomicUsize>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stopping = watch::Sender::new(false);
        let open = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&open);
        let server = tokio::spawn(accept_until(
            listener,
            stopping.subscribe(),
            limits,
            move |mut stream, _, mut stop| {
                let open = Arc::clone(&counter);
                async move {
                    open.fetch_add(1, Ordering::SeqCst);
                    let mut byte = [0u8; 1];
                    if stream.read_exact(&mut byte).await.is_ok() {
                        let _ = stream.write_all(&byte).await;
                    }
                    let _ = stop.wait_for(|s| *s).await;
                    // Finishing up takes a moment: the drain must wait for it.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                }
            },
        ));
        (address, stopping, server, open)
    }

    async fn echo(stream: &mut TcpStream) -> bool {
        if stream.write_all(b"x").await.is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut byte)).await,
            Ok(Ok(_))
        )
    }

    #[tokio::test]
    async fn connections_past_the_limit_wait_until_one_closes() {
        let limits = AcceptLimits {
            max_connections: 2,
            drain_timeout: Duration::from_secs(5),
        };
        let (address, stopping, server, open) = start(limits).await;
        let mut first = TcpStream::connect(address).await.unwrap();
        let mut second = TcpStream::connect(address).await.unwrap();
        assert!(echo(&mut first).await && echo(&mut second).await);
        // The third connects (the kernel's backlog) but is not served while two are open.
        let mut third = TcpStream::connect(address).await.unwrap();
        assert!(!echo(&mut third).await, "a third connection was served past the limit");
        assert_eq!(open.load(Ordering::SeqCst), 2);
        stopping.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_shutdown_refuses_new_connections_and_waits_for_open_ones() {
        let limits = AcceptLimits {
            max_connections: 16,
            drain_timeout: Duration::from_secs(5),
        };
        let (address, stopping, server, open) = start(limits).await;
        let mut streams = Vec::new();
        for _ in 0..3 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            assert!(echo(&mut stream).await);
            streams.push(stream);
        }
        stopping.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(open.load(Ordering::SeqCst), 0, "returned before the connections ended");
        assert!(
            TcpStream::connect(address).await.is_err(),
            "still accepting after the shutdown"
        );
    }

    #[tokio::test]
    async fn a_connection_that_never_ends_holds_the_shutdown_only_until_the_drain_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stopping = watch::Sender::new(false);
        let limits = AcceptLimits {
            max_connections: 4,
            drain_timeout: Duration::from_millis(300),
        };
        let (accepted, mut served) = mpsc::channel::<()>(1);
        let server = tokio::spawn(accept_until(
            listener,
            stopping.subscribe(),
            limits,
            move |stream, _, _| {
                let accepted = accepted.clone();
                async move {
                    let _held = stream;
                    let _ = accepted.send(()).await;
                    std::future::pending::<()>().await
                }
            },
        ));
        let _client = TcpStream::connect(address).await.unwrap();
        served.recv().await.unwrap();
        stopping.send_replace(true);
        let began = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            began.elapsed() >= Duration::from_millis(300),
            "did not wait for the connection"
        );
    }
}
