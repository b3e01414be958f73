//! One client connection: frames are read ahead into a buffer and handled one at a time
//! in arrival order (Kafka clients rely on it; a partition's appends stay in order), while
//! a writer task sends finished responses with vectored writes. A bounded queue between
//! them is the backpressure: a client that does not read stops being read.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_protocol::ApiKey;
use brook_protocol::frame::FrameDecoder;
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::handlers::{Handlers, Peer, Reply};
use crate::metrics::{BrokerMetrics, ConnectionGuard};
use crate::request_time::{RequestClock, with_remote_time};

/// Responses waiting to be written, per connection.
const MAX_QUEUED_RESPONSES: usize = 16;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open at once (`max.connections`).
    pub max_connections: usize,
    pub max_request_bytes: usize,
    pub idle_timeout: Duration,
}

pub async fn serve(
    stream: TcpStream,
    handlers: Arc<Handlers>,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let peer = Peer::new(stream.peer_addr().ok());
    let _open = ConnectionGuard::open(Arc::clone(&handlers.metrics));
    let (mut read, write) = stream.into_split();
    let (responses, queue) = mpsc::channel::<Response>(MAX_QUEUED_RESPONSES);
    let writer = tokio::spawn(write_responses(write, queue, Arc::clone(&handlers.metrics)));
    let decoder = FrameDecoder::new(limits.max_request_bytes);
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    // Every frame decoded after a read was completed by that read: frames complete
    // before it were decoded (and handled) before reading again.
    let mut read_at = Instant::now();
    // Resolved once the connection's latest `acks=all` produce has its answer.
    let mut replicating: Option<oneshot::Receiver<()>> = None;
    let outcome = 'connection: loop {
        loop {
            let frame = match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => break 'connection Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            };
            // The header starts with the API key; metrics count only the APIs Brook knows.
            let api_key = frame.get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
            if api_key != Some(ApiKey::Produce as i16)
                && let Some(done) = replicating.take()
            {
                // Anything but a produce sees the connection's earlier produces
                // replicated, as if each request waited for the one before it.
                let _ = done.await;
            }
            let started = Instant::now();
            let (reply, remote) = with_remote_time(handlers.handle(frame, &peer)).await;
            let clock = RequestClock {
                read: read_at,
                started,
                handled: Instant::now(),
                remote,
                remote_after: Duration::ZERO,
            };
            let timed = api_key.map(|api_key| (api_key, clock));
            let response = match reply {
                Reply::Send(pieces) => Response {
                    body: Body::Ready(pieces),
                    timed,
                },
                Reply::Later(answer) => {
                    let (done, replicated) = oneshot::channel();
                    replicating = Some(replicated);
                    Response {
                        body: Body::Later(answer, done),
                        timed,
                    }
                }
                Reply::Nothing => {
                    if let Some(api_key) = api_key {
                        handlers.metrics.observe_request(api_key, &clock.phases(None));
                    }
                    continue;
                }
                Reply::Close => break 'connection Ok(()),
            };
            if responses.send(response).await.is_err() {
                break 'connection Ok(()); // the writer failed: the peer is gone
            }
        }
        let read = tokio::select! {
            read = tokio::time::timeout(limits.idle_timeout, read.read_buf(&mut buffer)) => read,
            _ = stopping.wait_for(|s| *s) => break Ok(()),
        };
        read_at = Instant::now();
        match read {
            Ok(Ok(0)) => break Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => break Err(e),
            Err(_) => break Ok(()), // connections.max.idle.ms
        }
    };
    // Responses already handled are still delivered before the socket closes.
    drop(responses);
    let _ = writer.await;
    outcome
}

/// A response on its way to the writer, with the API and clock of its request.
struct Response {
    body: Body,
    timed: Option<(i16, RequestClock)>,
}

enum Body {
    Ready(Vec<Bytes>),
    /// Still waiting (on followers): the writer awaits it in its turn, then says so.
    Later(
        Pin<Box<dyn Future<Output = Option<Vec<Bytes>>> + Send>>,
        oneshot::Sender<()>,
    ),
}

/// Writes the responses in request order; a later one waits its turn, and the ones
/// queued behind it wait for it.
async fn write_responses(
    mut write: impl AsyncWrite + Unpin,
    mut queue: mpsc::Receiver<Response>,
    metrics: Arc<BrokerMetrics>,
) {
    while let Some(Response { body, mut timed }) = queue.recv().await {
        let mut pieces = match body {
            Body::Ready(pieces) => pieces,
            Body::Later(answer, done) => {
                let (pieces, remote) = with_remote_time(answer).await;
                let _ = done.send(());
                if let Some((_, clock)) = &mut timed {
                    clock.remote_after = remote;
                }
                match pieces {
                    Some(pieces) => pieces,
                    None => return, // unanswerable: close, as for any other request
                }
            }
        };
        let dequeued = Instant::now();
        if write_all_vectored(&mut write, &mut pieces).await.is_err() {
            return;
        }
        if let Some((api_key, clock)) = timed {
            metrics.observe_request(api_key, &clock.phases(Some((dequeued, Instant::now()))));
        }
    }
    let _ = write.shutdown().await;
}

/// Writes every piece, as few syscalls as the socket allows.
async fn write_all_vectored(write: &mut (impl AsyncWrite + Unpin), pieces: &mut [Bytes]) -> io::Result<()> {
    let mut first = 0;
    while first < pieces.len() {
        let slices: Vec<IoSlice<'_>> = pieces[first..].iter().take(64).map(|p| IoSlice::new(p)).collect();
        let mut written = write.write_vectored(&slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let piece = &mut pieces[first];
            let n = written.min(piece.len());
            piece.advance(n);
            written -= n;
            if piece.is_empty() {
                first += 1;
            }
        }
        while first < pieces.len() && pieces[first].is_empty() {
            first += 1;
        }
    }
    write.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn vectored_writes_deliver_every_byte_in_order_through_partial_writes() {
        let pieces: Vec<Bytes> = (0..200u32)
            .map(|i| Bytes::from(vec![i as u8; (i as usize % 7) * 100]))
            .collect();
        let expected: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
        // A tiny duplex buffer forces many partial writes.
        let (mut client, mut server) = tokio::io::duplex(97);
        let mut to_send = pieces.clone();
        let writer = tokio::spawn(async move { write_all_vectored(&mut client, &mut to_send).await });
        let mut received = vec![0u8; expected.len()];
        server.read_exact(&mut received).await.unwrap();
        writer.await.unwrap().unwrap();
        assert!(received == expected);
    }
}
