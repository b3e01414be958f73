//! Brook broker: storage engine, Kafka network server, request handlers, replication,
//! purgatory and group coordinator (DESIGN.md §2, §3, §5, §6).
//!
//! The storage engine is [`log`]; the server and handlers land with issue 5.

pub mod log;
