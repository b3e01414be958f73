//! TCP plumbing of the controller: internal RPC frames, and openraft's network.

pub mod accept;
pub mod framed;
pub mod peer_times;
pub mod raft_network;
