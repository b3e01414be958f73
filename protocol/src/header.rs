//! Request header v0–v2 and response header v0–v1.
//!
//! Brook parses the request header itself: the fixed fields (api key, version, correlation
//! id) are read even for an API it does not know, so it can still answer with an error.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;

use crate::wire::Reader;
use crate::{ApiKey, ProtocolError};

/// The header that starts every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<StrBytes>,
}

/// The request header version an API version uses: 2 for flexible versions, else 1.
/// An API Brook does not know is read as version 1, whose fields every version shares.
pub fn request_header_version(api_key: i16, api_version: i16) -> i16 {
    match ApiKey::try_from(api_key) {
        Ok(key) => key.request_header_version(api_version),
        Err(()) => 1,
    }
}

/// The response header version: 1 for flexible versions, else 0 (always 0 for ApiVersions).
pub fn response_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    api_key.response_header_version(api_version)
}

impl RequestHeader {
    pub fn new(api_key: ApiKey, api_version: i16, correlation_id: i32, client_id: Option<StrBytes>) -> Self {
        RequestHeader {
            api_key: api_key as i16,
            api_version,
            correlation_id,
            client_id,
        }
    }

    /// Parses the header at the start of a frame body and returns it with the rest of the
    /// body, which shares the frame's memory.
    pub fn parse(frame: &Bytes) -> Result<(RequestHeader, Bytes), ProtocolError> {
        let mut reader = Reader::new(frame);
        let api_key = reader.i16("request api key")?;
        let api_version = reader.i16("request api version")?;
        let correlation_id = reader.i32("correlation id")?;
        let header_version = request_header_version(api_key, api_version);
        let client_id = if header_version >= 1 {
            read_nullable_string(&mut reader, frame)?
        } else {
            None
        };
        if header_version >= 2 {
            reader.skip_tagged_fields()?;
        }
        let header = RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        };
        Ok((header, frame.slice(reader.position()..)))
    }

    /// Writes this header in the version its API and version call for.
    pub fn encode(&self, buf: &mut BytesMut) {
        let header_version = request_header_version(self.api_key, self.api_version);
        buf.put_i16(self.api_key);
        buf.put_i16(self.api_version);
        buf.put_i32(self.correlation_id);
        if header_version >= 1 {
            match &self.client_id {
                Some(id) => {
                    // An INT16-length string: a longer client id is cut, as it cannot be sent.
                    let id = &id.as_bytes()[..id.len().min(i16::MAX as usize)];
                    buf.put_i16(id.len() as i16);
                    buf.put_slice(id);
                }
                None => buf.put_i16(-1),
            }
        }
        if header_version >= 2 {
            buf.put_u8(0); // no tagged fields
        }
    }
}

fn read_nullable_string(reader: &mut Reader<'_>, frame: &Bytes) -> Result<Option<StrBytes>, ProtocolError> {
    let len = reader.i16("client id length")?;
    if len < 0 {
        return Ok(None);
    }
    let start = reader.position();
    reader.take(len as usize, "client id")?;
    let bytes = frame.slice(start..start + len as usize);
    StrBytes::from_utf8(bytes)
        .map(Some)
        .map_err(|e| ProtocolError::malformed("client id", e))
}

/// Writes a response header of the given version: the correlation id, plus an empty
/// tagged-field section in version 1.
pub fn encode_response_header(buf: &mut BytesMut, correlation_id: i32, header_version: i16) {
    buf.put_i32(correlation_id);
    if header_version >= 1 {
        buf.put_u8(0);
    }
}

/// Reads a response header of the given version; returns the correlation id and the body.
pub fn parse_response_header(frame: &Bytes, header_version: i16) -> Result<(i32, Bytes), ProtocolError> {
    let mut reader = Reader::new(frame);
    let correlation_id = reader.i32("correlation id")?;
    if header_version >= 1 {
        reader.skip_tagged_fields()?;
    }
    Ok((correlation_id, frame.slice(reader.position()..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_in_every_version() {
        // Produce v8 uses header v1, v9 header v2; ApiVersions v3 header v2.
        for (key, version) in [(ApiKey::Produce, 8), (ApiKey::Produce, 9), (ApiKey::ApiVersions, 3)] {
            for client_id in [None, Some(StrBytes::from_static_str("rdkafka"))] {
                let header = RequestHeader::new(key, version, 77, client_id);
                let mut buf = BytesMut::new();
                header.encode(&mut buf);
                buf.extend_from_slice(b"body");
                let (parsed, body) = RequestHeader::parse(&buf.freeze()).unwrap();
                assert_eq!(parsed, header);
                assert_eq!(&body[..], b"body");
            }
        }
    }

    #[test]
    fn unknown_api_still_yields_correlation_id() {
        let mut frame = BytesMut::new();
        frame.put_i16(999);
        frame.put_i16(3);
        frame.put_i32(42);
        frame.put_i16(-1);
        let (header, body) = RequestHeader::parse(&frame.freeze()).unwrap();
        assert_eq!(
            (header.api_key, header.api_version, header.correlation_id),
            (999, 3, 42)
        );
        assert!(body.is_empty());
    }

    #[test]
    fn short_or_lying_headers_are_errors() {
        for bad in [
            &[0u8, 18][..],
            &[0, 18, 0, 3, 0, 0, 0, 1, 0, 50, b'x'],
            &[0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 5],
        ] {
            assert!(RequestHeader::parse(&Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn response_header_versions() {
        for version in [0, 1] {
            let mut buf = BytesMut::new();
            encode_response_header(&mut buf, 9, version);
            buf.extend_from_slice(b"x");
            let (id, body) = parse_response_header(&buf.freeze(), version).unwrap();
            assert_eq!((id, &body[..]), (9, &b"x"[..]));
        }
    }
}
