//! Brook as a system of real processes, files and TCP: `brook dev`, clusters of
//! `brook controller` and `brook broker` processes (with a fault-injecting proxy between
//! brokers), killed, paused, cut off and restarted under Brook's own client, kcat and
//! confluent-kafka, with nothing acknowledged lost.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod brokers;
mod consumer;
mod controllers;
mod group_failover;
mod idempotent_produce;
mod kcat;
mod producer;
mod reassignment;
mod replication;
