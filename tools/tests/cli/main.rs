//! The `brook` command line run as a process, as a user's shell runs it: its
//! subcommands against `brook dev` and against clusters of controller and broker
//! processes, checked with kcat and the Python clients where a test says so
//! (`require!`).

#[path = "../common/mod.rs"]
mod common;

mod basics;
mod bench;
mod cluster;
mod consume;
mod group;
mod robustness;
mod topic;
