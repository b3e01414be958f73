//! A request frame body, as a broker reads it off a socket: header, then the API body.
#![no_main]

use brook_protocol::codec::decode_request;
use brook_protocol::messages::RequestKind;
use brook_protocol::records::validate_record_set;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = decode_request(&Bytes::copy_from_slice(data))
        && let RequestKind::Produce(produce) = request.body
    {
        for partition in produce.topic_data.iter().flat_map(|t| &t.partition_data) {
            if let Some(records) = &partition.records {
                let _ = validate_record_set(records);
            }
        }
    }
});
