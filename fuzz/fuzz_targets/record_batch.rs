//! A record set: batches validated, decompressed (bounded) and their records read.
//! Each input is also tried with its first batch's CRC made right, since a fuzzer cannot
//! forge CRC-32C and would otherwise never reach the record parser behind it.
#![no_main]

use brook_protocol::records::{Batches, validate_record_set};
use libfuzzer_sys::fuzz_target;

fn exercise(data: &[u8]) {
    let _ = validate_record_set(data);
    for batch in Batches::new(data).flatten() {
        let _ = batch.validate();
        if let Ok(payload) = batch.records_payload(1 << 20) {
            for record in batch.records(&payload).flatten() {
                record.headers().for_each(drop);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= 61 {
        let mut fixed = data.to_vec();
        let claimed = i32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        let end = (12 + claimed.max(49) as usize).min(fixed.len());
        let crc = crc32c::crc32c(&fixed[21..end]);
        fixed[17..21].copy_from_slice(&crc.to_be_bytes());
        exercise(&fixed);
    }
});
