/// Why a record batch (or a record inside it) was refused. The broker answers all of
/// these with `CORRUPT_MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("truncated: {what} needs {needed} bytes, {available} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    #[error("batch length {0} is impossible")]
    InvalidLength(i32),
    #[error("unsupported magic {0} (only RecordBatch v2 is accepted)")]
    UnsupportedMagic(i8),
    #[error("CRC-32C mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record count {count} does not match last offset delta {last_offset_delta}")]
    InvalidRecordCount { count: i32, last_offset_delta: i32 },
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    #[error("{codec} codec failed: {reason}")]
    Codec { codec: &'static str, reason: String },
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error("malformed record: {0}")]
    MalformedRecord(&'static str),
    #[error("{0} bytes after the last whole batch")]
    TrailingBytes(usize),
    #[error("empty record set")]
    Empty,
}
