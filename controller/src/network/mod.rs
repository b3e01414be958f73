//! TCP plumbing of the controller's Raft: openraft's network, and when each follower last
//! answered.

pub mod peer_times;
pub mod raft_network;
