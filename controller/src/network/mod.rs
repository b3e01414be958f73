//! TCP plumbing of the controller: internal RPC frames, and openraft's network.

pub mod accept;
pub mod framed;
pub mod raft_network;
