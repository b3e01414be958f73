//! Brook broker: storage engine, Kafka network server, request handlers, replication,
//! purgatory and group coordinator (DESIGN.md §2, §3, §5, §6).
//!
//! The storage engine lands with issue 3, the server and handlers with issue 5.
