//! Crash recovery: torn, zeroed and corrupt tails, deleted indexes, and the promise
//! that a restart only rescans what was not flushed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use brook_broker::log::{LogConfig, LogOffsets, PartitionLog};
use brook_protocol::records::BatchView;
use common::*;

/// Opens after an unclean stop, verifying from `recovery_point`.
fn reopen_unclean(dir: &Path, recovery_point: i64) -> PartitionLog {
    let offsets = LogOffsets {
        recovery_point,
        ..LogOffsets::default()
    };
    PartitionLog::open(dir, small_config(), offsets, false).expect("recovery never fails on bad data")
}

fn segment_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Writes `batches` small batches, stops uncleanly, and returns the batches read back.
fn write_log(dir: &Path, batches: usize) -> Vec<(i64, Vec<u8>)> {
    write_log_with(dir, batches).0
}

/// Like [`write_log`], also returning the active segment's file and data length.
fn write_log_with(dir: &Path, batches: usize) -> (Vec<(i64, Vec<u8>)>, PathBuf, usize) {
    let log = open(dir, small_config());
    for i in 0..batches {
        log.append_as_leader(&batch(1 + i % 3, 40, i as i64), 0).unwrap();
    }
    let written = read_all(&log, 0);
    drop(log); // no close: the active file keeps its preallocated zero tail
    let active = segment_files(dir, "log").pop().unwrap();
    let active_base: i64 = active.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let data_len = written
        .iter()
        .filter(|(o, _)| *o >= active_base)
        .map(|(_, b)| b.len())
        .sum();
    (written, active, data_len)
}

/// Copies a partition dir, to damage a fresh copy per case.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_cut_at_every_byte_of_the_last_batch_recovers_exactly_the_prefix() {
    let pristine = tempfile::tempdir().unwrap();
    let (written, active, data_len) = write_log_with(pristine.path(), 30);
    let (last_base, last_batch) = written.last().unwrap().clone();
    let log_end = BatchView::new(&last_batch).unwrap().next_offset();
    let original = fs::read(&active).unwrap();
    let batch_start = data_len - last_batch.len();
    for cut in batch_start..data_len {
        for zero_tail in [0, 4096] {
            let scratch = tempfile::tempdir().unwrap();
            copy_dir(pristine.path(), scratch.path());
            let file = fs::OpenOptions::new()
                .write(true)
                .open(scratch.path().join(active.file_name().unwrap()))
                .unwrap();
            file.set_len(cut as u64).unwrap();
            file.set_len((cut + zero_tail) as u64).unwrap();
            let log = reopen_unclean(scratch.path(), 0);
            // Zero-filling what was cut off restores the batch when the cut-off bytes
            // were zeros anyway (a record ending in a zero header count).
            let restored = zero_tail > 0 && original[cut..data_len].iter().all(|&b| b == 0);
            let kept = if restored { written.len() } else { written.len() - 1 };
            assert_eq!(
                read_all(&log, 0),
                written[..kept],
                "cut at {cut}, zero tail {zero_tail}"
            );
            let log_end_offset = if restored { log_end } else { last_base };
            assert_eq!(log.log_end_offset(), log_end_offset, "cut at {cut}");
            // And the log takes appends again where the intact prefix ends.
            assert_eq!(
                log.append_as_leader(&batch(1, 10, 0), 0).unwrap().first_offset,
                log_end_offset
            );
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_the_crc_or_header_checks_cuts_the_batch_off() {
    let pristine = tempfile::tempdir().unwrap();
    let (written, active, data_len) = write_log_with(pristine.path(), 12);
    let (last_base, last_batch) = written.last().unwrap().clone();
    let bytes = fs::read(&active).unwrap();
    let batch_start = data_len - last_batch.len();
    // baseOffset (0..8) and partitionLeaderEpoch (12..16) are outside the CRC by design.
    for at in (8..12).chain(16..last_batch.len()) {
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), scratch.path());
        let mut damaged = bytes.clone();
        damaged[batch_start + at] ^= 1 << (at % 8);
        fs::write(scratch.path().join(active.file_name().unwrap()), &damaged).unwrap();
        let log = reopen_unclean(scratch.path(), 0);
        assert_eq!(log.log_end_offset(), last_base, "bit flipped at byte {at}");
        assert_eq!(read_all(&log, 0), written[..written.len() - 1]);
    }
}

#[test]
fn damage_in_an_older_segment_cuts_there_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_log(dir.path(), 150);
    let logs = segment_files(dir.path(), "log");
    assert!(logs.len() >= 4);
    let victim = &logs[1];
    let victim_base: i64 = victim.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let mut bytes = fs::read(victim).unwrap();
    let first = BatchView::new(&bytes).unwrap().size();
    bytes[first + 30] ^= 0xff; // inside the second batch's CRC-covered part
    fs::write(victim, &bytes).unwrap();
    let log = reopen_unclean(dir.path(), 0);
    let kept: Vec<_> = written.iter().filter(|(o, _)| *o <= victim_base).cloned().collect();
    assert_eq!(read_all(&log, 0), kept);
    assert_eq!(
        segment_files(dir.path(), "log").len(),
        2,
        "segments after the damage are gone"
    );
}

#[test]
fn segments_below_the_recovery_point_are_not_rescanned() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_log(dir.path(), 60);
    let logs = segment_files(dir.path(), "log");
    let log_end_offset = written
        .last()
        .map(|(_, b)| BatchView::new(b).unwrap().next_offset())
        .unwrap();
    // Damage the first segment, then recover from a recovery point in the last one:
    // the damage is not seen (recovery work is proportional to the unflushed tail).
    let mut bytes = fs::read(&logs[0]).unwrap();
    bytes[40] ^= 0xff;
    fs::write(&logs[0], &bytes).unwrap();
    let log = reopen_unclean(dir.path(), log_end_offset);
    assert_eq!(log.log_end_offset(), log_end_offset);
}

#[test]
fn deleted_or_garbled_indexes_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    for i in 0..80 {
        log.append_as_leader(&batch(2, 30, i), 0).unwrap();
    }
    let written = read_all(&log, 0);
    assert!(log.close().unwrap());
    drop(log);
    let indexes = segment_files(dir.path(), "index");
    let before: Vec<Vec<u8>> = indexes.iter().map(|p| fs::read(p).unwrap()).collect();
    assert!(before.iter().any(|b| !b.is_empty()), "the small interval makes entries");
    fs::remove_file(&indexes[0]).unwrap();
    fs::write(&indexes[1], b"\xff\xff\xff\xff\0\0\0\x01garbage!").unwrap();
    fs::remove_file(indexes.last().unwrap()).unwrap();
    let log = PartitionLog::open(dir.path(), small_config(), LogOffsets::default(), true).unwrap();
    assert_eq!(read_all(&log, 0), written);
    for (offset, bytes) in &written {
        let got = log.read(*offset + 1, 1, i64::MAX).unwrap();
        let expected = if BatchView::new(bytes).unwrap().last_offset() > *offset {
            *offset
        } else {
            *offset + 1
        };
        assert_eq!(base_offset(&got[0]), expected);
    }
    assert!(log.close().unwrap());
    let after: Vec<Vec<u8>> = indexes.iter().map(|p| fs::read(p).unwrap()).collect();
    assert!(after == before, "rebuilt indexes equal the originals");
}

/// A log of ten batches of two records (offsets 0-19), in segments of `small_config`.
fn ten_batches(dir: &Path) -> PartitionLog {
    let log = open(dir, small_config());
    for i in 0..10 {
        log.append_as_leader(&batch(2, 30, i), 0).unwrap();
    }
    log
}

/// Cuts the log at offset 10 while a reader holds the bytes past the cut (returned),
/// then appends one record at a new epoch.
fn cut_while_held(log: &PartitionLog) -> Vec<bytes::Bytes> {
    let held = log.read(10, 1 << 20, i64::MAX).unwrap();
    log.truncate_to(10).unwrap();
    log.append_as_leader(&batch(1, 30, 100), 1).unwrap();
    held
}

#[test]
fn truncated_records_do_not_come_back_after_a_crash_even_while_a_reader_held_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = ten_batches(dir.path());
    let held = cut_while_held(&log);
    log.flush_up_to(log.log_end_offset()).unwrap();
    // The cut segment could not be trimmed while `held` maps it, so the recovery point
    // stays at or below the cut.
    assert!(log.recovery_point() <= 10);
    let recovery_point = log.recovery_point();
    let expected = read_all(&log, 0);
    drop(log);
    let log = reopen_unclean(dir.path(), recovery_point);
    assert_eq!(read_all(&log, 0), expected);
    assert_eq!(log.log_end_offset(), 11);
    drop(held);
}

#[test]
fn a_clean_shutdown_leaves_files_that_end_at_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    };
    let log = PartitionLog::open(dir.path(), config.clone(), LogOffsets::default(), true).unwrap();
    log.append_as_leader(&batch(3, 100, 0), 0).unwrap();
    let size = log.size_bytes();
    assert!(log.close().unwrap());
    let active = segment_files(dir.path(), "log").pop().unwrap();
    assert_eq!(fs::metadata(active).unwrap().len(), size);
}

#[test]
fn an_unsynced_close_moves_the_recovery_point_only_when_told_the_sync_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let log = ten_batches(dir.path());
    let size = log.size_bytes();
    assert!(log.close_unsynced().unwrap(), "every file ends at its data");
    assert_eq!(log.recovery_point(), 0, "nothing is known to be on disk yet");
    log.synced_to_end();
    assert_eq!(log.recovery_point(), 20);
    let active = segment_files(dir.path(), "log").pop().unwrap();
    assert_eq!(fs::metadata(active).unwrap().len(), size);
    assert!(log.append_as_leader(&batch(1, 30, 10), 0).is_err(), "closed");
}

#[test]
fn an_unsynced_close_with_a_reader_holding_a_cut_segment_is_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = ten_batches(dir.path());
    let held = cut_while_held(&log);
    let expected = read_all(&log, 0);
    assert!(
        !log.close_unsynced().unwrap(),
        "the cut segment still holds bytes past its data"
    );
    drop(log);
    let log = reopen_unclean(dir.path(), 0);
    assert_eq!(read_all(&log, 0), expected);
    drop(held);
}
