//! The storage engine against the raw limits of the same disk, measured in one run.
//!
//! - `append/*`: `PartitionLog::append_as_leader` (validate, copy into the mapped
//!   segment, assign offsets, index), 16 KiB and 1 MiB batches, one partition and 100
//!   partitions round-robin, flush off and `flush.messages=1` (msync + fdatasync before
//!   each append returns).
//! - `raw/*`: the ceilings: memcpy into a fallocated, mapped file; `write(2)` of the
//!   same chunks (`dd`-style); and `write` + `fdatasync` per chunk.
//! - `read/*`: sequential reads of a log in the page cache, handing out mapped
//!   `Bytes` (`zero_copy`) and also copying them out as a socket write would (`copy_out`).
//! - `lookup/*`: locating a random offset (sparse index + header scan).
//! - `restart/*`: 1,000 partitions of one batch each: opening them after a clean
//!   shutdown on 2 and 16 threads, and closing them, each log with its own fsyncs
//!   (`PartitionLog::close`) against `LogManager::shutdown` (one `syncfs`).
//!
//! Each append sample writes to a fresh temp dir on the disk under `BROOK_BENCH_DIR`
//! (default: the system temp dir), so disk use stays bounded by one sample.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brook_benches::record_set;
use brook_broker::log::{LogConfig, LogManager, LogManagerConfig, LogOffsets, PartitionLog, TopicPartition};
use brook_protocol::records::Batches;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("BROOK_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(PathBuf::from(dir)).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

/// One batch of about `batch_bytes` with 1 KiB values.
fn one_batch(batch_bytes: usize) -> Vec<u8> {
    let set = record_set(batch_bytes, batch_bytes, KIB);
    let first = Batches::new(&set).next().unwrap().unwrap();
    first.as_bytes().to_vec()
}

fn open_logs(dir: &std::path::Path, partitions: usize, config: &LogConfig) -> Vec<PartitionLog> {
    (0..partitions)
        .map(|p| {
            PartitionLog::open(
                &dir.join(format!("bench-{p}")),
                config.clone(),
                LogOffsets::default(),
                true,
            )
            .unwrap()
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for flush in [false, true] {
        for batch_bytes in [16 * KIB, MIB] {
            for partitions in [1, 100] {
                let batch = one_batch(batch_bytes);
                let config = LogConfig {
                    flush_messages: if flush { 1 } else { i64::MAX },
                    max_message_bytes: 2 * MIB as u32,
                    ..LogConfig::default()
                };
                let name = format!(
                    "{}/{}KiB/{partitions}_partitions",
                    if flush { "flush_each" } else { "flush_off" },
                    batch_bytes / KIB
                );
                group.throughput(Throughput::Bytes(batch.len() as u64));
                group.bench_function(BenchmarkId::from_parameter(name), |b| {
                    b.iter_custom(|iters| {
                        let dir = bench_dir();
                        let logs = open_logs(dir.path(), partitions, &config);
                        let started = Instant::now();
                        for i in 0..iters as usize {
                            logs[i % partitions].append_as_leader(&batch, 1).unwrap();
                        }
                        started.elapsed()
                    })
                });
            }
        }
    }
    group.finish();
}

fn raw(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    for chunk in [16 * KIB, MIB] {
        let data = vec![0x5au8; chunk];
        group.throughput(Throughput::Bytes(chunk as u64));
        group.bench_function(BenchmarkId::new("memcpy_into_mapped_file", chunk / KIB), |b| {
            b.iter_custom(|iters| {
                let dir = bench_dir();
                let len = iters as usize * chunk;
                let file = File::options()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(dir.path().join("raw"))
                    .unwrap();
                fallocate(&file, len);
                let mut map = unsafe { memmap2::MmapMut::map_mut(&file).unwrap() };
                let started = Instant::now();
                for i in 0..iters as usize {
                    map[i * chunk..(i + 1) * chunk].copy_from_slice(&data);
                }
                started.elapsed()
            })
        });
        for sync in [false, true] {
            let name = if sync {
                "write_fdatasync_each"
            } else {
                "write_sequential"
            };
            group.bench_function(BenchmarkId::new(name, chunk / KIB), |b| {
                b.iter_custom(|iters| {
                    let dir = bench_dir();
                    let mut file = File::create(dir.path().join("raw")).unwrap();
                    let started = Instant::now();
                    for _ in 0..iters {
                        file.write_all(&data).unwrap();
                        if sync {
                            file.sync_data().unwrap();
                        }
                    }
                    started.elapsed()
                })
            });
        }
    }
    group.finish();
}

fn fallocate(file: &File, len: usize) {
    use std::os::fd::AsRawFd;
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    assert_eq!(rc, 0);
}

/// A 256 MiB log of `batch_bytes` batches with 1 KiB values, in the page cache.
fn filled_log(dir: &std::path::Path, batch_bytes: usize) -> PartitionLog {
    let log = open_logs(dir, 1, &LogConfig::default()).pop().unwrap();
    let batch = one_batch(batch_bytes);
    while log.size_bytes() < 256 * MIB as u64 {
        log.append_as_leader(&batch, 1).unwrap();
    }
    log
}

fn read(c: &mut Criterion) {
    let dir = bench_dir();
    let log = filled_log(dir.path(), 16 * KIB);
    let total = log.size_bytes();
    let mut group = c.benchmark_group("read");
    group.sample_size(10).throughput(Throughput::Bytes(total));
    group.bench_function("zero_copy/1MiB_fetches", |b| {
        b.iter(|| {
            let mut offset = 0;
            while offset < log.log_end_offset() {
                for chunk in log.read(offset, MIB, i64::MAX).unwrap() {
                    offset = Batches::new(&chunk).last().unwrap().unwrap().next_offset();
                }
            }
        })
    });
    let mut sink = vec![0u8; 2 * MIB];
    group.bench_function("copy_out/1MiB_fetches", |b| {
        b.iter(|| {
            let mut offset = 0;
            while offset < log.log_end_offset() {
                for chunk in log.read(offset, MIB, i64::MAX).unwrap() {
                    sink[..chunk.len()].copy_from_slice(&chunk);
                    offset = Batches::new(&chunk).last().unwrap().unwrap().next_offset();
                }
            }
        })
    });
    group.finish();
}

fn lookup(c: &mut Criterion) {
    let dir = bench_dir();
    let log = filled_log(dir.path(), KIB + 128);
    let end = log.log_end_offset() as u64;
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    let mut state = 0x9e3779b97f4a7c15u64;
    group.bench_function(format!("random_offset/{end}_offsets_1KiB_batches"), |b| {
        b.iter(|| {
            // xorshift: a cheap, repeatable random offset.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            log.read((state % end) as i64, 1, i64::MAX).unwrap()
        })
    });
    group.finish();
}

const RESTART_PARTITIONS: i32 = 1000;

/// A log manager over `dir` opening and closing on `threads` threads, with
/// `RESTART_PARTITIONS` partitions holding one 16 KiB batch each once `fill` has run.
fn manager(dir: &std::path::Path, threads: usize) -> Arc<LogManager> {
    let mut config = LogManagerConfig::new(vec![dir.to_path_buf()]);
    config.recovery_threads = threads;
    config.log_config.segment_bytes = 4 * MIB as u32;
    LogManager::open(config).unwrap()
}

fn fill(manager: &LogManager, batch: &[u8]) {
    for p in 0..RESTART_PARTITIONS {
        let log = manager.get_or_create(&TopicPartition::new("restart", p), None).unwrap();
        log.append_as_leader(batch, 0).unwrap();
    }
}

fn restart(c: &mut Criterion) {
    let batch = one_batch(16 * KIB);
    let mut group = c.benchmark_group("restart");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let dir = bench_dir();
    let filled = manager(dir.path(), 16);
    fill(&filled, &batch);
    filled.shutdown().unwrap();
    drop(filled);
    for threads in [2, 16] {
        group.bench_function(
            format!("open_after_clean_shutdown/{RESTART_PARTITIONS}_partitions/{threads}_threads"),
            |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let opened = manager(dir.path(), threads);
                        took += started.elapsed();
                        assert_eq!(opened.len(), RESTART_PARTITIONS as usize);
                        opened.shutdown().unwrap();
                    }
                    took
                })
            },
        );
    }
    // Each sample closes logs holding new, unsynced data, as a shutdown after a run does.
    type Close = fn(&LogManager);
    let closes: [(&str, Close); 2] = [
        ("each_log_fsyncs", |m| {
            for tp in m.partitions() {
                assert!(m.get(&tp).unwrap().close().unwrap());
            }
        }),
        ("one_syncfs", |m| m.shutdown().unwrap()),
    ];
    for (name, close) in closes {
        group.bench_function(format!("close/{RESTART_PARTITIONS}_partitions/{name}"), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let fresh = bench_dir();
                    let opened = manager(fresh.path(), 16);
                    fill(&opened, &batch);
                    let started = Instant::now();
                    close(&opened);
                    took += started.elapsed();
                }
                took
            })
        });
    }
    group.finish();
}

criterion_group!(benches, raw, append, read, lookup, restart);
criterion_main!(benches);
