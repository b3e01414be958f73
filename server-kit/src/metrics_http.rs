//! A minimal HTTP/1.1 endpoint for Prometheus: `GET /metrics` answers the text format,
//! anything else 404. One request per connection, headers bounded, so a bad client
//! costs one small buffer and a closed socket.

use std::time::Duration;

use prometheus::{Encoder, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::accept::{AcceptLimits, accept_until};

const MAX_REQUEST_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Scrapes open at once; a scraper needs one.
const MAX_CONNECTIONS: usize = 64;

/// Serves the metrics of every registry (one process may hold a controller and a broker)
/// until the task is dropped or aborted.
pub async fn serve_metrics(listener: TcpListener, registries: Vec<Registry>) {
    // Never stopped: the owner aborts the task.
    let (_never, stopping) = watch::channel(false);
    let limits = AcceptLimits {
        max_connections: MAX_CONNECTIONS,
        drain_timeout: Duration::ZERO,
    };
    accept_until(listener, stopping, limits, |stream, _, _| {
        let registries = registries.clone();
        async move {
            if let Err(e) = answer(stream, &registries).await {
                tracing::debug!(error = %e, "metrics request failed");
            }
        }
    })
    .await;
}

async fn answer(mut stream: TcpStream, registries: &[Registry]) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return respond(&mut stream, "431 Request Header Fields Too Large", "text/plain", b"").await;
        }
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow request"))??;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let request_line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = request_line.split(|b| *b == b' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if method != b"GET" || (path != b"/metrics" && !path.starts_with(b"/metrics?")) {
        return respond(&mut stream, "404 Not Found", "text/plain", b"try /metrics\n").await;
    }
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    let families: Vec<_> = registries.iter().flat_map(Registry::gather).collect();
    encoder.encode(&families, &mut body).map_err(std::io::Error::other)?;
    respond(&mut stream, "200 OK", encoder.format_type(), &body).await
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}
