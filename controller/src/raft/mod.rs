//! The openraft node: its type configuration and a small handle the rest of the crate
//! uses, so openraft's types stay behind this module.

mod node;
pub mod types;

pub use node::{RaftHandle, RaftStatus};
