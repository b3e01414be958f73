//! Brook's controller quorum (DESIGN.md §4): the cluster's source of truth.

pub mod placement;
pub mod state_machine;
pub mod topic_config;
