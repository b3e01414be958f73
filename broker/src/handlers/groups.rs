//! The consumer-group coordinator is not on brokers yet (it comes with the groups
//! issue). FindCoordinator answers `COORDINATOR_NOT_AVAILABLE`, the retriable error a
//! Kafka cluster gives while no coordinator is available, so clients back off and keep
//! working with assigned partitions instead of losing their connection.

use brook_protocol::messages::find_coordinator_response::Coordinator;
use brook_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use brook_protocol::{ErrorCode, StrBytes};

use super::Handlers;

const NOT_AVAILABLE: &str = "the group coordinator is not available on this cluster yet";

impl Handlers {
    pub(super) fn find_coordinator(&self, request: FindCoordinatorRequest, version: i16) -> FindCoordinatorResponse {
        let code = ErrorCode::CoordinatorNotAvailable.code();
        let message = || Some(StrBytes::from_static_str(NOT_AVAILABLE));
        if version < 4 {
            let response = FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id(BrokerId(-1))
                .with_port(-1);
            return if version >= 1 {
                response.with_error_message(message())
            } else {
                response
            };
        }
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(code)
                    .with_error_message(message())
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    }
}
