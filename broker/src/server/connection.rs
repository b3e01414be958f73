//! One client connection: frames are read ahead into a buffer and handled one at a time
//! in arrival order (Kafka clients rely on it; a partition's appends stay in order), while
//! a writer task sends finished responses with vectored writes. A bounded queue between
//! them is the backpressure: a client that does not read stops being read.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use brook_protocol::frame::FrameDecoder;
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::handlers::{Handlers, Peer, Reply};
use crate::metrics::ConnectionGuard;

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
    let (responses, queue) = mpsc::channel::<Vec<Bytes>>(MAX_QUEUED_RESPONSES);
    let writer = tokio::spawn(write_responses(write, queue));
    let decoder = FrameDecoder::new(limits.max_request_bytes);
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let outcome = 'connection: loop {
        loop {
            let frame = match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => break 'connection Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            };
            match handlers.handle(frame, &peer).await {
                Reply::Send(pieces) => {
                    if responses.send(pieces).await.is_err() {
                        break 'connection Ok(()); // the writer failed: the peer is gone
                    }
                }
                Reply::Nothing => {}
                Reply::Close => break 'connection Ok(()),
            }
        }
        let read = tokio::select! {
            read = tokio::time::timeout(limits.idle_timeout, read.read_buf(&mut buffer)) => read,
            _ = stopping.wait_for(|s| *s) => break Ok(()),
        };
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

async fn write_responses(mut write: impl AsyncWrite + Unpin, mut queue: mpsc::Receiver<Vec<Bytes>>) {
    while let Some(mut pieces) = queue.recv().await {
        if write_all_vectored(&mut write, &mut pieces).await.is_err() {
            return;
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
