//! TCP plumbing of the controller: internal RPC frames, and openraft's network.

pub mod framed;
pub mod raft_network;
