//! Brook controller: the openraft quorum that holds the cluster metadata (DESIGN.md §4).
//!
//! Lands with issue 4; its wire types already live in `brook_protocol::rpc`.
