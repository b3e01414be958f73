//! Idempotent producers (KIP-98), per partition: for each producer id, its epoch and the
//! sequence ranges and offsets of its last five batches. The leader checks every
//! producer batch against them before appending: a retried batch already in the log is
//! answered with its original offsets instead of being written twice, a gap in the
//! sequence is `OUT_OF_ORDER_SEQUENCE_NUMBER`, an older epoch `INVALID_PRODUCER_EPOCH`.
//!
//! The state is rebuilt from the batch headers of the newest segments when a log opens
//! and is kept by followers too, so a new leader knows the producers. Like Kafka, a
//! producer with no state here (never seen, expired, or older than what was scanned) may
//! start at any sequence.

use std::collections::{HashMap, VecDeque};

use brook_protocol::records::BatchView;

/// Batches remembered per producer: the most an idempotent producer keeps in flight.
const REMEMBERED_BATCHES: usize = 5;

/// Why a producer batch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`: a gap (or a new epoch not starting at 0).
    #[error("producer {producer_id} epoch {epoch}: sequence {got}, expected {expected}")]
    OutOfOrder {
        producer_id: i64,
        epoch: i16,
        expected: i32,
        got: i32,
    },
    /// `INVALID_PRODUCER_EPOCH`: a newer incarnation of the producer has written.
    #[error("producer {producer_id} epoch {epoch} is older than its current epoch {current}")]
    StaleEpoch { producer_id: i64, epoch: i16, current: i16 },
    /// `INVALID_RECORD`: a producer id without a sequence.
    #[error("producer {producer_id} batch has no sequence number")]
    NoSequence { producer_id: i64 },
    /// `INVALID_TXN_STATE`: Brook has no transactions, so no transactional batch is valid.
    #[error("transactional batch from producer {producer_id}: transactions are not supported")]
    Transactional { producer_id: i64 },
}

/// Where one of a producer's batches landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// A producer batch's identity, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    /// Records in the batch (`lastOffsetDelta + 1`).
    pub records: i64,
}

impl ProducerBatch {
    /// `None` for a batch from a producer without idempotence (producer id -1).
    pub fn of(batch: &BatchView<'_>) -> Option<ProducerBatch> {
        let producer_id = batch.producer_id();
        if producer_id < 0 {
            return None;
        }
        let first_seq = batch.base_sequence();
        let delta = batch.last_offset_delta().max(0);
        Some(ProducerBatch {
            producer_id,
            epoch: batch.producer_epoch(),
            first_seq,
            last_seq: add_sequence(first_seq, delta),
            records: i64::from(delta) + 1,
        })
    }

    fn metadata(&self, first_offset: i64) -> BatchMetadata {
        BatchMetadata {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            first_offset,
            last_offset: first_offset + self.records - 1,
        }
    }
}

/// Sequences wrap from `i32::MAX` to 0, as Kafka's do.
fn add_sequence(seq: i32, n: i32) -> i32 {
    ((i64::from(seq) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

#[derive(Debug)]
struct Producer {
    epoch: i16,
    /// Oldest first; never empty.
    batches: VecDeque<BatchMetadata>,
    last_append_ms: i64,
}

/// What the leader does with a record set, once its producer batches are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Append it; these batches (in order, with their offsets relative to the record
    /// set's first) are recorded once it is in the log.
    Append(Vec<(ProducerBatch, i64)>),
    /// Already in the log: answer with where it went, write nothing.
    Duplicate(BatchMetadata),
}

#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, Producer>,
}

impl ProducerStates {
    /// Checks a record set's producer batches in order, each as if the ones before it
    /// were already appended.
    pub fn check<'a>(&self, batches: impl Iterator<Item = BatchView<'a>>) -> Result<Checked, SequenceError> {
        let mut fresh: Vec<(ProducerBatch, i64)> = Vec::new();
        let mut relative = 0;
        for view in batches {
            let Some(batch) = ProducerBatch::of(&view) else {
                relative += i64::from(view.last_offset_delta()) + 1;
                continue;
            };
            if view.is_transactional() {
                return Err(SequenceError::Transactional {
                    producer_id: batch.producer_id,
                });
            }
            if batch.first_seq < 0 {
                return Err(SequenceError::NoSequence {
                    producer_id: batch.producer_id,
                });
            }
            let earlier = fresh.iter().rev().find(|(b, _)| b.producer_id == batch.producer_id);
            match earlier {
                Some((before, _)) => check_after(before.epoch, before.last_seq, &batch)?,
                None => {
                    if let Some(duplicate) = self.check_one(&batch)? {
                        return Ok(Checked::Duplicate(duplicate));
                    }
                }
            }
            fresh.push((batch, relative));
            relative += batch.records;
        }
        Ok(Checked::Append(fresh))
    }

    /// Checks a batch against the producer's state; `Some` if it is a retry of one
    /// already appended.
    fn check_one(&self, batch: &ProducerBatch) -> Result<Option<BatchMetadata>, SequenceError> {
        let Some(producer) = self.producers.get(&batch.producer_id) else {
            return Ok(None);
        };
        if batch.epoch == producer.epoch
            && let Some(original) = producer
                .batches
                .iter()
                .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
        {
            return Ok(Some(*original));
        }
        let last_seq = producer.batches.back().map_or(-1, |b| b.last_seq);
        check_after(producer.epoch, last_seq, batch)?;
        Ok(None)
    }

    /// Records a batch that is now in the log at `first_offset` (leader, follower or
    /// recovery), at time `now_ms`.
    pub fn record(&mut self, batch: &ProducerBatch, first_offset: i64, now_ms: i64) {
        let metadata = batch.metadata(first_offset);
        let producer = self.producers.entry(batch.producer_id).or_insert_with(|| Producer {
            epoch: batch.epoch,
            batches: VecDeque::with_capacity(REMEMBERED_BATCHES),
            last_append_ms: now_ms,
        });
        if batch.epoch != producer.epoch {
            producer.epoch = batch.epoch;
            producer.batches.clear();
        }
        if producer.batches.len() == REMEMBERED_BATCHES {
            producer.batches.pop_front();
        }
        producer.batches.push_back(metadata);
        producer.last_append_ms = now_ms;
    }

    /// Records what a record set of batches brought, its first batch at `first_offset`.
    pub fn record_all(&mut self, checked: &[(ProducerBatch, i64)], first_offset: i64, now_ms: i64) {
        for (batch, relative) in checked {
            self.record(batch, first_offset + relative, now_ms);
        }
    }

    /// Forgets batches at or after `end_offset` (the log was truncated there); a
    /// producer left with none is forgotten (its older batches were not remembered).
    pub fn truncate_to(&mut self, end_offset: i64) {
        self.producers.retain(|_, producer| {
            while producer.batches.back().is_some_and(|b| b.last_offset >= end_offset) {
                producer.batches.pop_back();
            }
            !producer.batches.is_empty()
        });
    }

    /// Forgets producers whose last batch is below the log start (retention, DeleteRecords).
    pub fn remove_before(&mut self, log_start_offset: i64) {
        self.producers.retain(|_, producer| {
            producer
                .batches
                .back()
                .is_some_and(|b| b.last_offset >= log_start_offset)
        });
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`).
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers
            .retain(|_, producer| now_ms.saturating_sub(producer.last_append_ms) < expiration_ms);
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }
}

/// The sequence rule after a producer's last known batch (`last_seq`, in `epoch`).
fn check_after(epoch: i16, last_seq: i32, batch: &ProducerBatch) -> Result<(), SequenceError> {
    let expected = if batch.epoch == epoch {
        add_sequence(last_seq, 1)
    } else if batch.epoch < epoch {
        return Err(SequenceError::StaleEpoch {
            producer_id: batch.producer_id,
            epoch: batch.epoch,
            current: epoch,
        });
    } else {
        0 // a new epoch starts over
    };
    if batch.first_seq == expected {
        Ok(())
    } else {
        Err(SequenceError::OutOfOrder {
            producer_id: batch.producer_id,
            epoch: batch.epoch,
            expected,
            got: batch.first_seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use brook_protocol::records::{BatchBuilder, Batches, Compression};
    use bytes::BytesMut;

    use super::*;

    /// A record set of one batch of `records` records from (`pid`, `epoch`) at `seq`.
    fn batch(pid: i64, epoch: i16, seq: i32, records: usize) -> BytesMut {
        let mut builder = BatchBuilder::new(Compression::None).with_producer(pid, epoch, seq);
        for _ in 0..records {
            builder.append(0, None, Some(b"v"), &[]);
        }
        let mut out = BytesMut::new();
        builder.build_into(&mut out).unwrap();
        out
    }

    fn check(states: &ProducerStates, set: &[u8]) -> Result<Checked, SequenceError> {
        states.check(Batches::new(set).map(Result::unwrap))
    }

    /// Checks and records like the leader, the record set landing at `offset`.
    fn append(states: &mut ProducerStates, set: &[u8], offset: i64) -> Result<Checked, SequenceError> {
        let checked = check(states, set)?;
        if let Checked::Append(batches) = &checked {
            states.record_all(batches, offset, 0);
        }
        Ok(checked)
    }

    #[test]
    fn a_retried_batch_is_answered_with_its_original_offsets() {
        let mut states = ProducerStates::default();
        append(&mut states, &batch(7, 0, 0, 3), 100).unwrap();
        append(&mut states, &batch(7, 0, 3, 2), 103).unwrap();
        let retry = check(&states, &batch(7, 0, 0, 3)).unwrap();
        assert_eq!(
            retry,
            Checked::Duplicate(BatchMetadata {
                first_seq: 0,
                last_seq: 2,
                first_offset: 100,
                last_offset: 102
            })
        );
        assert!(matches!(check(&states, &batch(7, 0, 5, 1)), Ok(Checked::Append(_))));
    }

    #[test]
    fn gaps_and_old_epochs_are_refused() {
        let mut states = ProducerStates::default();
        append(&mut states, &batch(7, 1, 0, 2), 0).unwrap();
        let gap = check(&states, &batch(7, 1, 3, 1)).unwrap_err();
        assert!(
            matches!(
                gap,
                SequenceError::OutOfOrder {
                    expected: 2,
                    got: 3,
                    ..
                }
            ),
            "{gap}"
        );
        let stale = check(&states, &batch(7, 0, 2, 1)).unwrap_err();
        assert!(matches!(stale, SequenceError::StaleEpoch { current: 1, .. }), "{stale}");
        let new_epoch_mid_sequence = check(&states, &batch(7, 2, 5, 1)).unwrap_err();
        assert!(matches!(
            new_epoch_mid_sequence,
            SequenceError::OutOfOrder { expected: 0, .. }
        ));
        assert!(
            matches!(check(&states, &batch(7, 2, 0, 1)), Ok(Checked::Append(_))),
            "a bumped epoch starts at 0"
        );
    }

    #[test]
    fn an_unknown_producer_may_start_anywhere_and_plain_batches_are_not_checked() {
        let states = ProducerStates::default();
        assert!(matches!(check(&states, &batch(9, 0, 42, 1)), Ok(Checked::Append(_))));
        assert_eq!(check(&states, &batch(-1, -1, -1, 4)), Ok(Checked::Append(vec![])));
    }

    #[test]
    fn batches_of_one_record_set_are_checked_in_order() {
        let mut states = ProducerStates::default();
        let mut set = batch(-1, -1, -1, 2);
        set.extend_from_slice(&batch(7, 0, 0, 2));
        set.extend_from_slice(&batch(7, 0, 2, 2));
        let Checked::Append(batches) = append(&mut states, &set, 10).unwrap() else {
            panic!("not appended")
        };
        assert_eq!(batches.iter().map(|(_, rel)| *rel).collect::<Vec<_>>(), [2, 4]);
        let mut gap = batch(8, 0, 0, 1);
        gap.extend_from_slice(&batch(8, 0, 2, 1));
        assert!(check(&states, &gap).is_err());
        let retry = check(&states, &batch(7, 0, 2, 2)).unwrap();
        assert!(matches!(
            retry,
            Checked::Duplicate(BatchMetadata { first_offset: 14, .. })
        ));
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut states = ProducerStates::default();
        for i in 0..6 {
            append(&mut states, &batch(7, 0, i, 1), i64::from(i)).unwrap();
        }
        assert!(matches!(check(&states, &batch(7, 0, 1, 1)), Ok(Checked::Duplicate(_))));
        assert!(
            check(&states, &batch(7, 0, 0, 1)).is_err(),
            "too old to recognise: out of order"
        );
    }

    #[test]
    fn record_sets_say_whether_they_need_the_checks() {
        let plain = batch(-1, -1, -1, 2);
        let idempotent = batch(7, 0, 0, 2);
        let summary = |set: &[u8]| brook_protocol::records::validate_record_set(set).unwrap();
        assert!(!summary(&plain).has_producer_ids);
        assert!(summary(&idempotent).has_producer_ids);
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut states = ProducerStates::default();
        append(&mut states, &batch(7, 0, i32::MAX - 1, 2), 0).unwrap();
        assert!(matches!(check(&states, &batch(7, 0, 0, 1)), Ok(Checked::Append(_))));
    }

    #[test]
    fn truncation_retention_and_expiry_forget_what_is_gone() {
        let mut states = ProducerStates::default();
        append(&mut states, &batch(1, 0, 0, 1), 0).unwrap();
        append(&mut states, &batch(2, 0, 0, 1), 5).unwrap();
        append(&mut states, &batch(2, 0, 1, 1), 9).unwrap();
        states.truncate_to(9);
        assert_eq!(states.len(), 2);
        assert!(
            matches!(check(&states, &batch(2, 0, 1, 1)), Ok(Checked::Append(_))),
            "the cut batch may come again"
        );
        states.remove_before(1);
        assert_eq!(states.len(), 1);
        states.expire(10_000, 5_000);
        assert_eq!(states.len(), 0);
    }

    #[test]
    fn transactional_batches_and_missing_sequences_are_refused() {
        let states = ProducerStates::default();
        let mut set = batch(7, 0, 0, 1);
        // attributes are at byte 21 of the header; bit 4 is "transactional".
        set[22] |= 0x10;
        assert!(matches!(
            states.check(Batches::new(&set).map(Result::unwrap)),
            Err(SequenceError::Transactional { .. })
        ));
        assert!(matches!(
            check(&states, &batch(7, 0, -1, 1)),
            Err(SequenceError::NoSequence { .. })
        ));
    }
}
