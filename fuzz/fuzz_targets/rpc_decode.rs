//! An internal RPC frame body, as a controller or broker reads it.
#![no_main]

use brook_protocol::rpc::{RpcRequest, RpcResponse, decode};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let _ = decode::<RpcRequest>(&frame);
    let _ = decode::<RpcResponse>(&frame);
});
