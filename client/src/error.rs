//! What a client call can fail with.

use std::time::Duration;

use brook_protocol::{ApiKey, ErrorCode, ProtocolError};

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach {addr}: {error}")]
    Connect { addr: String, error: std::io::Error },
    #[error("connection to {addr} lost: {reason}")]
    ConnectionLost { addr: String, reason: String },
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The broker does not serve any version of the API this client can speak.
    #[error("the broker does not support {api:?} versions {min}..={max}")]
    UnsupportedApi { api: ApiKey, min: i16, max: i16 },
    /// The broker answered with a Kafka error code.
    #[error("{}{} (error code {code})", prefix(context), error_name(*code))]
    Kafka { code: i16, context: String },
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// Fetched records failed their CRC or could not be read (`check.crcs`).
    #[error("corrupt records in {topic}-{partition} at offset {offset}: {reason}")]
    Corrupt {
        topic: String,
        partition: i32,
        offset: i64,
        reason: String,
    },
    /// A call the client's state does not allow (seeking a partition not assigned,
    /// subscribing without a group id, a partition with no offset and no reset policy).
    #[error("{0}")]
    InvalidState(String),
}

impl Error {
    /// An answer of another API than the request's (a broker bug).
    pub(crate) fn not_a(api: &str) -> Self {
        Error::Unexpected(format!("not a {api} response"))
    }

    pub(crate) fn kafka(code: i16, context: impl Into<String>) -> Self {
        Error::Kafka {
            code,
            context: context.into(),
        }
    }

    /// Whether the group coordinator asked may no longer be it: it said so
    /// (`NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`) or could not be reached.
    pub fn coordinator_moved(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Timeout { .. } => true,
            Error::Kafka { code, .. } => {
                *code == ErrorCode::NotCoordinator.code() || *code == ErrorCode::CoordinatorNotAvailable.code()
            }
            _ => false,
        }
    }

    /// Whether trying again may succeed: the broker said so (a retriable Kafka error,
    /// such as a leader that moved), or it could not be reached.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Timeout { .. } => true,
            Error::Kafka { code, .. } => ErrorCode::try_from_code(*code).is_some_and(|e| e.is_retriable()),
            _ => false,
        }
    }

    /// The Kafka error code, when the broker refused with one.
    pub fn kafka_code(&self) -> Option<i16> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// `context: `, or nothing for an empty context (no `: NAME` with nothing before it).
fn prefix(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    }
}

/// Kafka's name for an error code (`NON_EMPTY_GROUP`), as its tools print it.
pub fn error_name(code: i16) -> String {
    let Some(error) = ErrorCode::try_from_code(code) else {
        return if code == 0 {
            "NONE".into()
        } else {
            "UNKNOWN_SERVER_ERROR".into()
        };
    };
    let camel = format!("{error:?}");
    let mut name = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// `Ok` for error code 0, else the Kafka error with `context`.
pub(crate) fn check(code: i16, context: impl FnOnce() -> String) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::kafka(code, context()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kafka_error_prints_its_context_once_and_no_empty_prefix() {
        assert_eq!(
            super::Error::kafka(6, "orders-0").to_string(),
            "orders-0: NOT_LEADER_OR_FOLLOWER (error code 6)"
        );
        assert_eq!(
            super::Error::kafka(6, "").to_string(),
            "NOT_LEADER_OR_FOLLOWER (error code 6)"
        );
    }

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(super::error_name(68), "NON_EMPTY_GROUP");
        assert_eq!(super::error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(super::error_name(0), "NONE");
    }

    #[test]
    fn a_coordinator_is_looked_up_again_only_when_it_may_have_moved() {
        use super::Error;
        let kafka = |code| Error::kafka(code, "committing");
        assert!(kafka(16).coordinator_moved(), "NOT_COORDINATOR");
        assert!(kafka(15).coordinator_moved(), "COORDINATOR_NOT_AVAILABLE");
        let lost = Error::ConnectionLost {
            addr: "b:9092".into(),
            reason: "reset".into(),
        };
        assert!(lost.coordinator_moved());
        assert!(
            !kafka(22).coordinator_moved(),
            "ILLEGAL_GENERATION is the group's, not the broker's"
        );
        assert!(!kafka(68).coordinator_moved());
    }
}
