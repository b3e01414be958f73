//! The leader's periodic leader-imbalance check (`auto.leader.rebalance.enable`).

use brook_protocol::rpc::{ElectLeaders, ElectionType};

use super::ControllerService;
use crate::state_machine::{Command, imbalanced_partitions};

impl ControllerService {
    /// Moves leadership back to preferred replicas where a broker is imbalanced; one
    /// Raft entry for all of them.
    pub(super) async fn balance_leaders(&self) {
        let percentage = self.config.leader_imbalance_percentage;
        let moves = self.shared.read(|s| imbalanced_partitions(s.image(), percentage));
        if moves.is_empty() {
            return;
        }
        tracing::info!(partitions = moves.len(), "leader imbalance: electing preferred leaders");
        let request = ElectLeaders {
            election_type: ElectionType::Preferred,
            partitions: Some(moves),
        };
        if let Err(e) = self.raft.propose(Command::ElectLeaders(request)).await {
            tracing::debug!(error = %e, "could not rebalance leaders");
        }
    }
}
