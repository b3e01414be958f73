//! Build / parse / CRC properties of RecordBatch v2.

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
struct TestRecord {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn test_record() -> impl Strategy<Value = TestRecord> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..64);
    (
        0i64..4_000_000_000_000,
        prop::option::of(bytes()),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..2048)),
        prop::collection::vec((bytes(), prop::option::of(bytes())), 0..4),
    )
        .prop_map(|(timestamp, key, value, headers)| TestRecord {
            timestamp,
            key,
            value,
            headers,
        })
}

fn build(records: &[TestRecord], compression: Compression) -> BytesMut {
    let mut builder = BatchBuilder::new(compression);
    for r in records {
        let headers: Vec<HeaderRef<'_>> = r
            .headers
            .iter()
            .map(|(k, v)| HeaderRef {
                key: k,
                value: v.as_deref(),
            })
            .collect();
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers);
    }
    let mut out = BytesMut::new();
    builder.build_into(&mut out).unwrap();
    out
}

fn compression() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

fn assert_records_match(batch: BatchView<'_>, expected: &[TestRecord]) {
    let payload = batch.records_payload(16 << 20).unwrap();
    let records: Vec<Record<'_>> = batch.records(&payload).collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), expected.len());
    for (i, (got, want)) in records.iter().zip(expected).enumerate() {
        assert_eq!(got.offset_delta, i as i32);
        assert_eq!(batch.base_timestamp() + got.timestamp_delta, want.timestamp);
        assert_eq!(got.key, want.key.as_deref());
        assert_eq!(got.value, want.value.as_deref());
        let headers: Vec<Header<'_>> = got.headers().collect::<Result<_, _>>().unwrap();
        assert_eq!(headers.len(), want.headers.len());
        for (h, (k, v)) in headers.iter().zip(&want.headers) {
            assert_eq!((h.key, h.value), (&k[..], v.as_deref()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn built_batches_parse_back_to_the_same_records(
        records in prop::collection::vec(test_record(), 1..20),
        compression in compression(),
    ) {
        let bytes = build(&records, compression);
        let summary = validate_record_set(&bytes).unwrap();
        prop_assert_eq!(summary.records, records.len() as i64);
        prop_assert_eq!(summary.max_batch_bytes, bytes.len());
        prop_assert!(!summary.has_producer_ids, "a plain producer's batch");
        let batch = BatchView::new(&bytes).unwrap();
        prop_assert_eq!(batch.compression().unwrap(), compression);
        prop_assert_eq!(batch.records_count(), records.len() as i32);
        prop_assert_eq!(batch.max_timestamp(), records.iter().map(|r| r.timestamp).max().unwrap());
        assert_records_match(batch, &records);
    }

    #[test]
    fn offset_assignment_keeps_the_crc_valid_and_offsets_dense(
        sizes in prop::collection::vec(1usize..10, 1..8),
        first_offset in 0i64..1 << 40,
        epoch in 0i32..1000,
    ) {
        let record = TestRecord { timestamp: 1, key: None, value: Some(b"v".to_vec()), headers: vec![] };
        let mut set = BytesMut::new();
        for &n in &sizes {
            set.extend_from_slice(&build(&vec![record.clone(); n], Compression::None));
        }
        let next = assign_offsets(&mut set, first_offset, epoch).unwrap();
        prop_assert_eq!(next, first_offset + sizes.iter().sum::<usize>() as i64);
        let mut expected_base = first_offset;
        for batch in Batches::new(&set) {
            let batch = batch.unwrap();
            batch.validate().unwrap();
            prop_assert_eq!(batch.base_offset(), expected_base);
            prop_assert_eq!(batch.partition_leader_epoch(), epoch);
            expected_base = batch.next_offset();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = validate_record_set(&bytes);
        for batch in Batches::new(&bytes).flatten() {
            let _ = batch.validate();
            if let Ok(payload) = batch.records_payload(1 << 16) {
                for record in batch.records(&payload).flatten() {
                    record.headers().for_each(drop);
                }
            }
        }
    }
}

fn sample_batch(compression: Compression) -> BytesMut {
    let records: Vec<TestRecord> = (0..5)
        .map(|i| TestRecord {
            timestamp: 1_700_000_000_000 + i,
            key: Some(format!("key-{i}").into_bytes()),
            value: Some(vec![i as u8; 40]),
            headers: vec![(b"h".to_vec(), Some(b"v".to_vec()))],
        })
        .collect();
    build(&records, compression)
}

#[test]
fn a_flipped_bit_anywhere_in_a_batch_is_caught() {
    for compression in Compression::ALL {
        let batch = sample_batch(compression);
        validate_record_set(&batch).unwrap();
        for byte in 0..batch.len() {
            for bit in 0..8 {
                let mut corrupt = batch.clone();
                corrupt[byte] ^= 1 << bit;
                let result = validate_record_set(&corrupt);
                // baseOffset and partitionLeaderEpoch are outside the CRC by design: the
                // leader rewrites them. Every other bit must be caught.
                let outside_crc = byte < 8 || (12..16).contains(&byte);
                if outside_crc {
                    assert!(result.is_ok(), "{compression:?} byte {byte} bit {bit}");
                } else {
                    assert!(result.is_err(), "{compression:?} byte {byte} bit {bit} went unnoticed");
                }
            }
        }
    }
}

#[test]
fn truncated_record_sets_are_refused_and_partial_tails_are_left_over() {
    let mut set = sample_batch(Compression::None);
    set.extend_from_slice(&sample_batch(Compression::Zstd));
    let first_len = BatchView::new(&set).unwrap().size();
    for cut in 1..set.len() {
        let prefix = &set[..cut];
        if cut == first_len {
            assert!(validate_record_set(prefix).is_ok());
            continue;
        }
        assert!(validate_record_set(prefix).is_err(), "cut at {cut}");
        let mut batches = Batches::new(prefix);
        let whole = batches.by_ref().filter_map(Result::ok).count();
        assert_eq!(whole, usize::from(cut > first_len));
        assert_eq!(
            batches.remainder().len(),
            if cut > first_len { cut - first_len } else { cut }
        );
    }
}

#[test]
fn record_count_must_match_last_offset_delta() {
    let mut batch = sample_batch(Compression::None);
    // recordsCount at byte 57: claim 6 records where lastOffsetDelta says 5; fix the CRC.
    batch[57..61].copy_from_slice(&6i32.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        validate_record_set(&batch),
        Err(RecordError::InvalidRecordCount {
            count: 6,
            last_offset_delta: 4
        })
    ));
}

#[test]
fn old_magic_is_refused() {
    let mut batch = sample_batch(Compression::None);
    batch[16] = 1;
    assert_eq!(validate_record_set(&batch), Err(RecordError::UnsupportedMagic(1)));
}

#[test]
fn builder_is_reusable() {
    let mut builder = BatchBuilder::new(Compression::Lz4);
    let mut out = BytesMut::new();
    for round in 0..3 {
        builder.append(round, None, Some(b"x"), &[]);
        builder.build_into(&mut out).unwrap();
    }
    let summary = validate_record_set(&out).unwrap();
    assert_eq!((summary.batches, summary.records), (3, 3));
    assert_eq!(builder.build_into(&mut out), Err(RecordError::Empty));
}
