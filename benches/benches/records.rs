//! RecordBatch hot path: what a leader does to every produced byte.

use brook_benches::record_set;
use brook_protocol::records::{Batches, assign_offsets, validate_record_set};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SET_BYTES: usize = 1 << 20;

fn validate_and_assign(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_set");
    for batch_bytes in [16 << 10, 1 << 20] {
        let set = record_set(SET_BYTES, batch_bytes, 1024);
        group.throughput(Throughput::Bytes(set.len() as u64));
        let label = format!("{}KiB_batches", batch_bytes >> 10);
        group.bench_function(format!("crc32c_raw/{label}"), |b| {
            b.iter(|| crc32c::crc32c(std::hint::black_box(&set)))
        });
        group.bench_function(format!("validate/{label}"), |b| {
            b.iter(|| validate_record_set(std::hint::black_box(&set)).unwrap())
        });
        // The broker's append: validate, copy into the log, assign offsets in place.
        let mut log = vec![0u8; set.len()];
        let mut next_offset = 0i64;
        group.bench_function(format!("validate_copy_assign/{label}"), |b| {
            b.iter(|| {
                validate_record_set(&set).unwrap();
                log.copy_from_slice(&set);
                next_offset = assign_offsets(&mut log, next_offset, 7).unwrap();
            })
        });
    }
    group.finish();
}

fn iterate_records(c: &mut Criterion) {
    let set = record_set(SET_BYTES, 16 << 10, 100);
    let mut group = c.benchmark_group("records");
    group.throughput(Throughput::Bytes(set.len() as u64));
    group.bench_function("lazy_iterate_100B_values", |b| {
        b.iter(|| {
            let mut values = 0usize;
            for batch in Batches::new(&set) {
                let batch = batch.unwrap();
                let payload = batch.records_payload(usize::MAX).unwrap();
                for record in batch.records(&payload) {
                    values += record.unwrap().value.map_or(0, <[u8]>::len);
                }
            }
            values
        })
    });
    group.finish();
}

criterion_group!(benches, validate_and_assign, iterate_records);
criterion_main!(benches);
