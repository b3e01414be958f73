//! Kafka framing: every request and response is a 4-byte big-endian size, then that many bytes.
//!
//! The size is checked against `socket.request.max.bytes` before anything is allocated
//! for the frame, so a peer cannot make us reserve memory by announcing a huge frame.

use bytes::{BufMut, Bytes, BytesMut};

use crate::ProtocolError;

/// Kafka's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 100 * 1024 * 1024;

/// Length of the size prefix.
pub const SIZE_PREFIX_BYTES: usize = 4;

/// Splits complete frames off the front of a read buffer.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl FrameDecoder {
    pub fn new(max_frame_bytes: usize) -> Self {
        FrameDecoder { max_frame_bytes }
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// The body length announced by the size prefix at the start of `buf`, once it is there.
    ///
    /// `Ok(None)` means fewer than four bytes have arrived. An over-limit or negative size is
    /// an error: the caller closes the connection, as Kafka does.
    pub fn peek_body_len(&self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(prefix) = buf.first_chunk::<SIZE_PREFIX_BYTES>() else {
            return Ok(None);
        };
        let size = i32::from_be_bytes(*prefix);
        if size < 0 {
            return Err(ProtocolError::NegativeFrameSize(size));
        }
        let size = size as usize;
        if size > self.max_frame_bytes {
            return Err(ProtocolError::FrameTooLarge {
                size: size as u64,
                max: self.max_frame_bytes,
            });
        }
        Ok(Some(size))
    }

    /// Takes one whole frame body off the front of `buf`, without copying it.
    ///
    /// When the frame is incomplete, reserves room for the rest (bounded by the limit above)
    /// and returns `Ok(None)`.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, ProtocolError> {
        let Some(body_len) = self.peek_body_len(buf)? else {
            return Ok(None);
        };
        let total = SIZE_PREFIX_BYTES + body_len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let mut frame = buf.split_to(total);
        let _prefix = frame.split_to(SIZE_PREFIX_BYTES);
        Ok(Some(frame.freeze()))
    }
}

/// Starts a frame in `buf`: writes a placeholder size and returns where it stands.
pub fn begin_frame(buf: &mut BytesMut) -> usize {
    let start = buf.len();
    buf.put_i32(0);
    start
}

/// Fills in the size prefix of the frame begun at `start` with the bytes written since.
pub fn finish_frame(buf: &mut BytesMut, start: usize) -> Result<(), ProtocolError> {
    let body_len = buf.len() - start - SIZE_PREFIX_BYTES;
    let size = i32::try_from(body_len).map_err(|_| ProtocolError::Encode {
        what: "frame",
        reason: format!("{body_len} bytes do not fit a 32-bit size"),
    })?;
    buf[start..start + SIZE_PREFIX_BYTES].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_prefix_and_body_wait_for_more() {
        let decoder = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[5, 1, 2]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[3, 4, 5, 9]);
        assert_eq!(decoder.decode(&mut buf).unwrap().unwrap(), &[1, 2, 3, 4, 5][..]);
        assert_eq!(&buf[..], &[9]);
    }

    #[test]
    fn oversized_frame_is_refused_before_reserving() {
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&1025i32.to_be_bytes()[..]);
        let capacity_before = buf.capacity();
        assert_eq!(
            decoder.decode(&mut buf),
            Err(ProtocolError::FrameTooLarge { size: 1025, max: 1024 })
        );
        assert_eq!(buf.capacity(), capacity_before);
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::NegativeFrameSize(-1)));
    }

    #[test]
    fn begin_and_finish_write_the_body_length() {
        let mut buf = BytesMut::new();
        let start = begin_frame(&mut buf);
        buf.extend_from_slice(b"hello");
        finish_frame(&mut buf, start).unwrap();
        assert_eq!(&buf[..], b"\0\0\0\x05hello");
        let decoded = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(&decoded[..], b"hello");
    }
}
