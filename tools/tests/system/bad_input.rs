//! Hostile bytes on the Kafka port of `brook dev`: each bad connection is answered with
//! an error or closed, other clients keep being served, and stored data is untouched.

use crate::common;
use crate::common::require;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use brook_protocol::codec::{decode_response, encode_request};
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use brook_protocol::messages::{ProduceRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::records::{BatchBuilder, Compression};
use brook_protocol::{ApiKey, StrBytes};
use bytes::{Bytes, BytesMut};
use common::{DevCluster, kcat};

/// Sends `bytes` (optionally closing our side) and reports whether the broker closed
/// the connection within a few seconds.
fn closes_after(kafka: &str, bytes: &[u8], half_close: bool) -> bool {
    let mut stream = TcpStream::connect(kafka).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut rest = Vec::new();
    // EOF (Ok) or a reset (Err other than a timeout) both mean closed.
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

fn produce_frame(records: Bytes) -> BytesMut {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("orders")))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let header = RequestHeader::new(ApiKey::Produce, 9, 7, Some(StrBytes::from_static_str("hostile")));
    let mut frame = BytesMut::new();
    encode_request(&mut frame, &header, &RequestKind::Produce(request)).unwrap();
    frame
}

#[test]
fn hostile_bytes_get_an_error_or_a_closed_connection_and_nothing_else_changes() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let kafka = cluster.kafka.clone();
    kcat(&["-P", "-b", &kafka, "-t", "orders"], b"one\ntwo\nthree\n");

    let mut random = vec![0u8; 8192];
    let mut seed = 0x2545_f491_u32;
    for byte in random.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        *byte = seed as u8;
    }
    assert!(closes_after(&kafka, &random, false), "random bytes");
    assert!(
        closes_after(&kafka, &0x7fff_ffffu32.to_be_bytes(), false),
        "a 2 GiB size prefix"
    );
    assert!(
        closes_after(&kafka, &[0, 0, 0, 100, 0, 0, 0], true),
        "a truncated frame"
    );
    // A valid Produce v9 header followed by garbage.
    let mut garbage = BytesMut::new();
    garbage.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0]);
    garbage.extend_from_slice(&[0xff; 40]);
    let size = (garbage.len() - 4) as u32;
    garbage[..4].copy_from_slice(&size.to_be_bytes());
    assert!(
        closes_after(&kafka, &garbage, false),
        "a valid header with a garbage body"
    );

    // A record batch whose CRC does not match: CORRUPT_MESSAGE, and nothing appended.
    let mut builder = BatchBuilder::new(Compression::None);
    builder.append(1, Some(b"k"), Some(b"evil"), &[]);
    let mut batch = BytesMut::new();
    builder.build_into(&mut batch).unwrap();
    let last = batch.len() - 1;
    batch[last] ^= 0x55;
    let mut stream = TcpStream::connect(&kafka).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&produce_frame(batch.freeze())).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body).unwrap();
    let (_, response) = decode_response(&Bytes::from(body), ApiKey::Produce, 9).unwrap();
    let ResponseKind::Produce(response) = response else {
        panic!("not a produce response")
    };
    assert_eq!(
        response.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );

    let out = kcat(
        &["-C", "-b", &kafka, "-t", "orders", "-o", "beginning", "-e", "-q"],
        b"",
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "one\ntwo\nthree\n");
}
