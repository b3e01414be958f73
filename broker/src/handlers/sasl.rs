//! The SASL APIs of a broker without SASL: clients configured for it fail at once with
//! a clear error instead of retrying.

use brook_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use brook_protocol::{ErrorCode, StrBytes};

use super::Handlers;

impl Handlers {
    pub(super) fn sasl_handshake(&self, request: SaslHandshakeRequest) -> SaslHandshakeResponse {
        tracing::debug!(mechanism = %request.mechanism, "SASL handshake on a listener without SASL");
        SaslHandshakeResponse::default()
            .with_error_code(ErrorCode::UnsupportedSaslMechanism.code())
            .with_mechanisms(Vec::new())
    }

    pub(super) fn sasl_authenticate(&self, _request: SaslAuthenticateRequest) -> SaslAuthenticateResponse {
        SaslAuthenticateResponse::default()
            .with_error_code(ErrorCode::IllegalSaslState.code())
            .with_error_message(Some(StrBytes::from_static_str("this listener does not use SASL")))
    }
}
