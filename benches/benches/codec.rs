//! Request decoding and varints.

use brook_benches::record_set;
use brook_protocol::codec::{decode_request, encode_request};
use brook_protocol::frame::FrameDecoder;
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{ProduceRequest, RequestKind, TopicName};
use brook_protocol::records::varint::{decode_i64, put_i64};
use brook_protocol::{ApiKey, StrBytes};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A Produce v9 request frame carrying one partition's record set of `records_bytes`.
fn produce_frame(records_bytes: usize) -> bytes::Bytes {
    let records = record_set(records_bytes, 16 << 10, 1024).freeze();
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("bench")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let header = RequestHeader::new(ApiKey::Produce, 9, 1, Some(StrBytes::from_static_str("bench")));
    let mut buf = BytesMut::new();
    encode_request(&mut buf, &header, &RequestKind::Produce(request)).unwrap();
    FrameDecoder::default().decode(&mut buf).unwrap().unwrap()
}

/// Decoding takes the same time for 1 KiB and 1 MiB of records: the record set stays a
/// slice of the frame.
fn produce_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_decode");
    group.throughput(Throughput::Elements(1));
    for (label, records_bytes) in [("1KiB", 1 << 10), ("1MiB", 1 << 20)] {
        let frame = produce_frame(records_bytes);
        group.bench_function(format!("produce_v9_{label}"), |b| {
            b.iter(|| decode_request(std::hint::black_box(&frame)).unwrap())
        });
    }
    group.finish();
}

fn varints(c: &mut Criterion) {
    // A mix like a record's fields: mostly 1-byte deltas and lengths, some wider.
    let values: Vec<i64> = (0..1000i64)
        .map(|i| if i % 10 == 0 { i * 100_000 } else { i % 60 })
        .collect();
    let mut encoded = Vec::new();
    for &v in &values {
        put_i64(&mut encoded, v);
    }
    let mut group = c.benchmark_group("varint");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("decode_1000_mixed", |b| {
        b.iter(|| {
            let (mut rest, mut sum) = (&encoded[..], 0i64);
            while !rest.is_empty() {
                let (v, used) = decode_i64(rest).unwrap();
                sum = sum.wrapping_add(v);
                rest = &rest[used..];
            }
            sum
        })
    });
    group.finish();
}

criterion_group!(benches, produce_decode, varints);
criterion_main!(benches);
