//! Internal RPC between brokers and controllers, and among controllers.
//!
//! Framed like Kafka (4-byte size prefix, same limit), with a postcard-encoded
//! [`RpcRequest`] or [`RpcResponse`] inside. Raft traffic travels as opaque bytes
//! ([`RaftMessage`]): openraft's types stay inside the controller crate.
//!
//! Metadata the controller holds is described by [`metadata`]: the records a broker
//! receives from `WatchMetadata`, and the image they build.

mod messages;
pub mod metadata;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use messages::*;

use crate::ProtocolError;
use crate::frame::{begin_frame, finish_frame};

/// Bumped on any incompatible change to the messages below; a peer speaking another
/// version is refused with [`RpcError::IncompatibleVersion`].
pub const RPC_VERSION: u16 = 4;

/// Appends `message` as one frame.
pub fn encode_frame<T: Serialize>(buf: &mut BytesMut, message: &T) -> Result<(), ProtocolError> {
    let start = begin_frame(buf);
    // Serialize straight into the frame: no intermediate buffer.
    if let Err(e) = postcard::to_io(message, (&mut *buf).writer()) {
        buf.truncate(start);
        return Err(ProtocolError::Encode {
            what: "rpc message",
            reason: e.to_string(),
        });
    }
    finish_frame(buf, start)
}

/// Decodes one frame body. Postcard checks every length against the input before it
/// allocates, so a hostile frame cannot reserve more than its own size.
pub fn decode<T: DeserializeOwned>(frame: &Bytes) -> Result<T, ProtocolError> {
    let (message, rest) = postcard::take_from_bytes(frame).map_err(|e| ProtocolError::malformed("rpc message", e))?;
    if !rest.is_empty() {
        return Err(ProtocolError::malformed(
            "rpc message",
            format!("{} bytes after the message", rest.len()),
        ));
    }
    Ok(message)
}

#[cfg(test)]
mod tests;
