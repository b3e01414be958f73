//! Consumer groups (docs/architecture.md): the classic protocol's coordinator on brokers.
//! Membership is soft state here; committed offsets live in the controller quorum and
//! are cached by the coordinator.

mod coordinator;
pub mod group;
mod offsets;

pub use coordinator::GroupCoordinator;
pub use offsets::{GroupOffsets, OffsetCache};
