//! Brook's async Rust client: producer, consumer and admin (lands with issue 8).
//! Its record batches are built with `brook_protocol::records::BatchBuilder`.
