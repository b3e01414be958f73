use std::io;

use brook_protocol::ErrorCode;
use brook_protocol::records::RecordError;

use super::producer_state::SequenceError;

/// Why a log operation failed. The broker maps these to Kafka error codes at its edge.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A record set that fails validation (`CORRUPT_MESSAGE`).
    #[error("corrupt record set: {0}")]
    Corrupt(#[from] RecordError),
    /// An idempotent producer's batch out of sequence, from an old epoch, or
    /// transactional (each has its Kafka error code).
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    /// A record set larger than `max.message.bytes` (`MESSAGE_TOO_LARGE`).
    #[error("record set of {size} bytes exceeds max.message.bytes {max}")]
    TooLarge { size: usize, max: u32 },
    /// A read outside `[log_start_offset, log_end_offset]` (`OFFSET_OUT_OF_RANGE`).
    #[error("offset {offset} is outside the log [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// A replicated append whose offsets do not follow the log end.
    #[error("replicated batch at offset {first_offset} does not follow the log end offset {log_end_offset}")]
    NonMonotonicOffsets { first_offset: i64, log_end_offset: i64 },
    /// A record timestamp outside `message.timestamp.before/after.max.ms` of the append
    /// time (`INVALID_TIMESTAMP`).
    #[error("timestamp {timestamp} is out of range: it must be within [{earliest}, {latest}]")]
    InvalidTimestamp { timestamp: i64, earliest: i64, latest: i64 },
    /// A setting out of its range (`INVALID_CONFIG`).
    #[error("invalid log config: {0}")]
    InvalidConfig(String),
    /// The log was deleted or closed (`KAFKA_STORAGE_ERROR` / `NOT_LEADER_OR_FOLLOWER`).
    #[error("log {0} is closed")]
    Closed(String),
    /// Disk trouble (`KAFKA_STORAGE_ERROR`); a full disk shows up here, not as a crash.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// Attaches the path an I/O error happened on.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| LogError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

impl LogError {
    /// The Kafka error code a client gets for this failure.
    pub fn kafka_code(&self) -> ErrorCode {
        match self {
            LogError::Corrupt(_) => ErrorCode::CorruptMessage,
            LogError::Sequence(e) => match e {
                SequenceError::OutOfOrder { .. } => ErrorCode::OutOfOrderSequenceNumber,
                SequenceError::StaleEpoch { .. } => ErrorCode::InvalidProducerEpoch,
                SequenceError::NoSequence { .. } => ErrorCode::InvalidRecord,
                SequenceError::Transactional { .. } => ErrorCode::InvalidTxnState,
            },
            LogError::TooLarge { .. } => ErrorCode::MessageTooLarge,
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::InvalidConfig(_) => ErrorCode::InvalidConfig,
            LogError::InvalidTimestamp { .. } => ErrorCode::InvalidTimestamp,
            LogError::Closed(_) => ErrorCode::NotLeaderOrFollower,
            LogError::NonMonotonicOffsets { .. } | LogError::Io { .. } => ErrorCode::KafkaStorageError,
        }
    }
}
