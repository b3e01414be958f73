//! Consumer groups (DESIGN.md §6): the classic protocol's coordinator on brokers.
//! Membership is soft state here; committed offsets live in the controller quorum.

mod coordinator;
pub mod group;

pub use coordinator::{GroupCoordinator, coordinator_index};
