//! The plumbing Brook's two servers share (docs/architecture.md): settings from files,
//! the environment and flags; the controller quorum's addresses; the internal RPC's
//! frames; the accept loop with its connection limit and drained shutdown; and the
//! Prometheus endpoint. Nothing here knows about Kafka's APIs, Raft or logs.

pub mod accept;
pub mod framed;
pub mod metrics_http;
pub mod properties;
pub mod voters;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
