//! The leader's timestamp rules for produced batches (Kafka's topic configs
//! `message.timestamp.type`, `message.timestamp.before.max.ms` and
//! `message.timestamp.after.max.ms`): CreateTime batches whose records lie too far from
//! the append time are refused with `INVALID_TIMESTAMP`; LogAppendTime batches are
//! stamped with it.

use brook_protocol::records::{Batches, RecordSetSummary, min_record_timestamp, set_log_append_time};

use super::config::LogConfig;
use super::error::{LogError, Result};

/// Largest decompressed batch looked into, as a multiple of `max.message.bytes`
/// (`PartitionLog::offset_for_timestamp` uses the same bound).
pub(super) const DECOMPRESSION_FACTOR: usize = 64;

/// Checks the record timestamps of a validated CreateTime record set against the bounds
/// around `now`. The newest comes from the batches' headers (their max timestamp); the
/// oldest needs the records decoded, which is done only when a `before` bound is set
/// (Kafka's default has none).
pub(super) fn check(records: &[u8], summary: &RecordSetSummary, config: &LogConfig, now: i64) -> Result<()> {
    let earliest = now.saturating_sub(config.timestamp_before_max_ms);
    let latest = now.saturating_add(config.timestamp_after_max_ms);
    let out_of_range = |timestamp| LogError::InvalidTimestamp {
        timestamp,
        earliest,
        latest,
    };
    if summary.max_timestamp > latest {
        return Err(out_of_range(summary.max_timestamp));
    }
    if config.timestamp_before_max_ms == i64::MAX {
        return Ok(());
    }
    let limit = (config.max_message_bytes as usize).saturating_mul(DECOMPRESSION_FACTOR);
    for batch in Batches::new(records) {
        let batch = batch?;
        let oldest = min_record_timestamp(&batch, limit)?;
        if oldest < earliest {
            return Err(out_of_range(oldest));
        }
    }
    Ok(())
}

/// The record set as it goes into the log: checked (CreateTime) or stamped with `now`
/// (LogAppendTime, a copy), with the summary's max timestamp made what the log now holds.
pub(super) fn apply<'r>(
    records: &'r [u8],
    summary: &mut RecordSetSummary,
    config: &LogConfig,
    now: i64,
) -> Result<std::borrow::Cow<'r, [u8]>> {
    if !config.log_append_time {
        check(records, summary, config, now)?;
        return Ok(std::borrow::Cow::Borrowed(records));
    }
    let mut stamped = records.to_vec();
    set_log_append_time(&mut stamped, now)?;
    summary.max_timestamp = now;
    Ok(std::borrow::Cow::Owned(stamped))
}

#[cfg(test)]
mod tests {
    use brook_protocol::records::{BatchBuilder, BatchView, Compression, TimestampType, validate_record_set};

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn batch(compression: Compression, timestamps: &[i64]) -> Vec<u8> {
        let mut builder = BatchBuilder::new(compression);
        for t in timestamps {
            builder.append(*t, None, Some(b"v"), &[]);
        }
        builder.finish().unwrap().to_vec()
    }

    fn checked(records: &[u8], config: &LogConfig) -> Result<()> {
        check(records, &validate_record_set(records).unwrap(), config, NOW)
    }

    #[test]
    fn kafkas_default_refuses_records_more_than_an_hour_ahead_only() {
        let config = LogConfig::default();
        assert!(checked(&batch(Compression::None, &[0, NOW, NOW + 3_600_000]), &config).is_ok());
        let ahead = checked(&batch(Compression::None, &[NOW, NOW + 3_600_001]), &config).unwrap_err();
        assert_eq!(ahead.kafka_code(), brook_protocol::ErrorCode::InvalidTimestamp);
    }

    #[test]
    fn a_before_bound_finds_the_oldest_record_wherever_it_is_and_however_compressed() {
        let config = LogConfig {
            timestamp_before_max_ms: 1000,
            ..LogConfig::default()
        };
        for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
            // The first record is recent; a later one is too old.
            let old_in_the_middle = batch(compression, &[NOW, NOW - 5000, NOW]);
            assert!(
                matches!(checked(&old_in_the_middle, &config), Err(LogError::InvalidTimestamp { timestamp, .. }) if timestamp == NOW - 5000),
                "{compression:?}"
            );
            assert!(checked(&batch(compression, &[NOW - 1000, NOW]), &config).is_ok());
        }
    }

    #[test]
    fn log_append_time_stamps_every_batch_and_keeps_it_valid() {
        let config = LogConfig {
            log_append_time: true,
            ..LogConfig::default()
        };
        // Far-future producer timestamps do not matter: the broker's time replaces them.
        let records = [
            batch(Compression::None, &[NOW + 9_000_000]),
            batch(Compression::Lz4, &[1, 2]),
        ]
        .concat();
        let mut summary = validate_record_set(&records).unwrap();
        let stamped = apply(&records, &mut summary, &config, NOW).unwrap();
        assert_eq!(summary.max_timestamp, NOW);
        assert_eq!(validate_record_set(&stamped).unwrap().max_timestamp, NOW, "CRCs hold");
        for batch in Batches::new(&stamped) {
            let batch: BatchView<'_> = batch.unwrap();
            assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
            assert_eq!(batch.max_timestamp(), NOW);
        }
        // CreateTime: the bytes go in as they came.
        let first = batch(Compression::None, &[NOW]);
        let mut summary = validate_record_set(&first).unwrap();
        let kept = apply(&first, &mut summary, &LogConfig::default(), NOW).unwrap();
        assert!(matches!(kept, std::borrow::Cow::Borrowed(_)));
    }
}
