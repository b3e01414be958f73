//! The one small API the rest of Brook uses for Kafka messages.
//!
//! Broker side: [`decode_request`] a frame body, [`encode_response`] the answer.
//! Client side: [`encode_request`] and [`decode_response`].
//! Produce record sets stay `Bytes` slices of the request frame: no per-record decoding.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{RequestKind, ResponseKind};

use crate::api::{api_versions_response, check_supported};
use crate::frame::{begin_frame, finish_frame};
use crate::header::{RequestHeader, encode_response_header, parse_response_header, response_header_version};
use crate::{ApiKey, ErrorCode, ProtocolError};

/// A decoded request: its header, its API, and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub body: RequestKind,
}

/// Why a request could not be decoded, with what the broker needs to react.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// Not even the header could be read: the connection must be closed.
    #[error("unreadable request header: {0}")]
    Header(ProtocolError),
    /// The header was read, so the error can be answered (or the connection closed, as
    /// Kafka does for APIs other than ApiVersions).
    #[error("request {correlation_id} refused: {error}", correlation_id = header.correlation_id)]
    Refused {
        header: RequestHeader,
        error: ProtocolError,
    },
}

/// Decodes one request frame body (after the size prefix).
pub fn decode_request(frame: &Bytes) -> Result<Request, RequestError> {
    let (header, mut body) = RequestHeader::parse(frame).map_err(RequestError::Header)?;
    let refuse = |error| RequestError::Refused {
        header: header.clone(),
        error,
    };
    let api_key = check_supported(header.api_key, header.api_version).map_err(refuse)?;
    let request = RequestKind::decode(api_key, &mut body, header.api_version)
        .map_err(|e| refuse(ProtocolError::malformed("request body", e)))?;
    Ok(Request {
        header,
        api_key,
        body: request,
    })
}

/// Appends one response frame (size prefix, header, body) to `buf`.
pub fn encode_response(
    buf: &mut BytesMut,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<(), ProtocolError> {
    let start = begin_frame(buf);
    encode_response_header(buf, correlation_id, response_header_version(api_key, version));
    if let Err(e) = body.encode(buf, version) {
        buf.truncate(start);
        return Err(ProtocolError::Encode {
            what: "response body",
            reason: e.to_string(),
        });
    }
    finish_frame(buf, start)
}

/// The version an ApiVersions response is written in when the client asked with a version
/// Brook does not serve: 0, which every client can read (KIP-511).
pub const API_VERSIONS_FALLBACK_VERSION: i16 = 0;

/// Appends the answer to an ApiVersions request of an unsupported version:
/// `UNSUPPORTED_VERSION` and the supported table, encoded as version 0.
pub fn encode_unsupported_api_versions(buf: &mut BytesMut, correlation_id: i32) -> Result<(), ProtocolError> {
    let body = ResponseKind::ApiVersions(api_versions_response(Some(ErrorCode::UnsupportedVersion)));
    encode_response(
        buf,
        ApiKey::ApiVersions,
        API_VERSIONS_FALLBACK_VERSION,
        correlation_id,
        &body,
    )
}

/// Appends one request frame to `buf` (client side).
pub fn encode_request(buf: &mut BytesMut, header: &RequestHeader, body: &RequestKind) -> Result<(), ProtocolError> {
    buf.reserve(size_hint(body));
    let start = begin_frame(buf);
    header.encode(buf);
    if let Err(e) = body.encode(buf, header.api_version) {
        buf.truncate(start);
        return Err(ProtocolError::Encode {
            what: "request body",
            reason: e.to_string(),
        });
    }
    finish_frame(buf, start)
}

/// Room a request body is likely to need: a Produce request is mostly its record sets,
/// which would otherwise grow the buffer (and copy it) many times over.
fn size_hint(body: &RequestKind) -> usize {
    const FIELDS: usize = 256;
    match body {
        RequestKind::Produce(produce) => {
            let records: usize = produce
                .topic_data
                .iter()
                .flat_map(|t| &t.partition_data)
                .map(|p| p.records.as_ref().map_or(0, |r| r.len()) + 16)
                .sum();
            FIELDS + records + 32 * produce.topic_data.len()
        }
        _ => FIELDS,
    }
}

/// Decodes one response frame body for a request of `api_key` at `version` (client side).
/// Returns the correlation id and the body.
///
/// An ApiVersions request answered with `UNSUPPORTED_VERSION` comes back as version 0:
/// decode it with [`API_VERSIONS_FALLBACK_VERSION`] when the first attempt fails.
pub fn decode_response(frame: &Bytes, api_key: ApiKey, version: i16) -> Result<(i32, ResponseKind), ProtocolError> {
    let (correlation_id, mut body) = parse_response_header(frame, response_header_version(api_key, version))?;
    let response =
        ResponseKind::decode(api_key, &mut body, version).map_err(|e| ProtocolError::malformed("response body", e))?;
    Ok((correlation_id, response))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{MetadataRequest, ProduceRequest};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::frame::FrameDecoder;

    fn frame_of(buf: &mut BytesMut) -> Bytes {
        FrameDecoder::default().decode(buf).unwrap().expect("a whole frame")
    }

    #[test]
    fn request_round_trips_through_frame_header_and_body() {
        let header = RequestHeader::new(ApiKey::Metadata, 12, 5, Some(StrBytes::from_static_str("t")));
        let body = RequestKind::Metadata(MetadataRequest::default().with_allow_auto_topic_creation(true));
        let mut buf = BytesMut::new();
        encode_request(&mut buf, &header, &body).unwrap();
        let decoded = decode_request(&frame_of(&mut buf)).unwrap();
        assert_eq!(
            decoded,
            Request {
                header,
                api_key: ApiKey::Metadata,
                body
            }
        );
    }

    #[test]
    fn unsupported_version_is_refused_with_the_header() {
        let header = RequestHeader::new(ApiKey::Produce, 2, 8, None);
        let mut buf = BytesMut::new();
        encode_request(&mut buf, &header, &RequestKind::Produce(ProduceRequest::default())).unwrap_err();
        // Encode a v3 body but claim v2 in the header.
        let v3 = RequestHeader::new(ApiKey::Produce, 3, 8, None);
        encode_request(&mut buf, &v3, &RequestKind::Produce(ProduceRequest::default())).unwrap();
        let mut frame = BytesMut::from(&frame_of(&mut buf)[..]);
        frame[2..4].copy_from_slice(&2i16.to_be_bytes());
        match decode_request(&frame.freeze()) {
            Err(RequestError::Refused { header: h, error }) => {
                assert_eq!(h, header);
                assert_eq!(error.error_code(), ErrorCode::UnsupportedVersion);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_api_versions_answer_is_readable_as_v0() {
        let mut buf = BytesMut::new();
        encode_unsupported_api_versions(&mut buf, 3).unwrap();
        let (id, body) = decode_response(&frame_of(&mut buf), ApiKey::ApiVersions, 0).unwrap();
        assert_eq!(id, 3);
        let ResponseKind::ApiVersions(response) = body else {
            panic!("not ApiVersions");
        };
        assert_eq!(response.error_code, ErrorCode::UnsupportedVersion.code());
        assert_eq!(response.api_keys.len(), crate::api::SUPPORTED_APIS.len());
    }
}
