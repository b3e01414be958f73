//! Internal RPC frames over a TCP stream: Kafka's 4-byte size prefix around a postcard
//! message, read with the size checked before anything is allocated.

use std::io;

use brook_protocol::frame::FrameDecoder;
use brook_protocol::rpc;
use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest internal frame: a snapshot chunk or a batch of Raft entries fits well inside.
pub const MAX_RPC_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// Reads frames from one half of a connection.
pub struct FrameReader<R> {
    inner: R,
    buffer: BytesMut,
    decoder: FrameDecoder,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            buffer: BytesMut::with_capacity(8 * 1024),
            decoder: FrameDecoder::new(MAX_RPC_FRAME_BYTES),
        }
    }

    /// The next message, or `None` at a clean end of stream.
    pub async fn read<T: DeserializeOwned>(&mut self) -> io::Result<Option<T>> {
        loop {
            let frame = self
                .decoder
                .decode(&mut self.buffer)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if let Some(frame) = frame {
                return rpc::decode(&frame)
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
            }
            if self.inner.read_buf(&mut self.buffer).await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed mid-frame",
                    ))
                };
            }
        }
    }
}

/// Writes one message as a frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    buffer: &mut BytesMut,
    message: &T,
) -> io::Result<()> {
    buffer.clear();
    rpc::encode_frame(buffer, message).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    writer.write_all(buffer).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use brook_protocol::rpc::{ControllerRequest, RPC_VERSION, RpcRequest};

    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_a_huge_size_prefix_is_refused_before_allocating() {
        let (client, server) = tokio::io::duplex(1024);
        let (_, mut client_write) = tokio::io::split(client);
        let mut reader = FrameReader::new(server);
        let request = RpcRequest {
            rpc_version: RPC_VERSION,
            correlation_id: 9,
            body: ControllerRequest::DescribeQuorum,
        };
        let mut buffer = BytesMut::new();
        write_frame(&mut client_write, &mut buffer, &request).await.unwrap();
        assert_eq!(reader.read::<RpcRequest>().await.unwrap(), Some(request));
        client_write.write_all(&0x7fff_ffffu32.to_be_bytes()).await.unwrap();
        let error = reader.read::<RpcRequest>().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_connection_closed_mid_frame_is_an_error_and_a_clean_close_is_none() {
        let (client, server) = tokio::io::duplex(1024);
        let mut reader = FrameReader::new(server);
        let (_, mut client_write) = tokio::io::split(client);
        client_write.write_all(&[0, 0, 0, 10, 1, 2]).await.unwrap();
        drop(client_write);
        assert_eq!(
            reader.read::<RpcRequest>().await.unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        assert_eq!(FrameReader::new(server).read::<RpcRequest>().await.unwrap(), None);
    }
}
