//! Errors of the protocol crate, and the Kafka error codes they map to at the handler edge.

/// A Kafka error code (`CORRUPT_MESSAGE`, `UNSUPPORTED_VERSION`, …) with its retriable flag.
/// `ErrorCode::try_from_code(0)` is `None`: zero means success.
pub use kafka_protocol::error::ResponseError as ErrorCode;

/// Why bytes from the wire could not be turned into a value (or a value into bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { size: u64, max: usize },
    #[error("negative frame size {0}")]
    NegativeFrameSize(i32),
    #[error("truncated input: needed {needed} bytes for {what}, {available} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("unsupported API key {0}")]
    UnsupportedApi(i16),
    #[error("unsupported version {version} of API key {api_key} (supported: {min}..={max})")]
    UnsupportedVersion {
        api_key: i16,
        version: i16,
        min: i16,
        max: i16,
    },
    #[error("record batch: {0}")]
    Record(#[from] crate::records::RecordError),
    #[error("could not encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
}

impl ProtocolError {
    pub(crate) fn malformed(what: &'static str, reason: impl std::fmt::Display) -> Self {
        ProtocolError::Malformed {
            what,
            reason: reason.to_string(),
        }
    }

    /// The Kafka error code a broker answers with when this error is about a request.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ProtocolError::UnsupportedVersion { .. } | ProtocolError::UnsupportedApi(_) => {
                ErrorCode::UnsupportedVersion
            }
            ProtocolError::Record(_) => ErrorCode::CorruptMessage,
            ProtocolError::FrameTooLarge { .. } => ErrorCode::MessageTooLarge,
            _ => ErrorCode::InvalidRequest,
        }
    }
}
