//! InitProducerId for idempotent producers.
//!
//! Brook has no transactions: a transactional id gets
//! `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`, a fatal error clients report at once
//! (`init_transactions()` fails instead of retrying until its timeout). FindCoordinator
//! locates transactional ids like groups so that every client gets this far.

use brook_protocol::ErrorCode;
use brook_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Handlers;

impl Handlers {
    pub(super) async fn init_producer_id(&self, request: InitProducerIdRequest) -> InitProducerIdResponse {
        let refused = |code: ErrorCode| {
            InitProducerIdResponse::default()
                .with_error_code(code.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        if let Some(id) = &request.transactional_id {
            tracing::warn!(transactional_id = %id.0, "refused InitProducerId: transactions are not supported by Brook yet");
            return refused(ErrorCode::TransactionalIdAuthorizationFailed);
        }
        // Without a transactional id, every call is a new producer (as in Kafka): a
        // fresh id at epoch 0, whatever id and epoch the request names (KIP-360).
        match self.producer_ids.next().await {
            Ok(id) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(code) => refused(code),
        }
    }
}
