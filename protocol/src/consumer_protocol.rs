//! The "consumer" protocol type's opaque payloads, as clients put them into JoinGroup
//! (subscription) and SyncGroup (assignment): a version, then the body. The group protocol
//! relays them as bytes; the broker reads them only for admin answers (OffsetDelete's
//! `GROUP_SUBSCRIBED_TO_TOPIC`, `brook group describe`), and `brook-client`'s consumer
//! writes and reads them.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::ProtocolError;

/// The newest version Brook knows; newer ones only append fields, so they are read as it.
const NEWEST: i16 = 3;

fn decode<T: Decodable>(payload: &Bytes, what: &'static str) -> Result<T, ProtocolError> {
    let mut buf = payload.clone();
    if buf.remaining() < 2 {
        return Err(ProtocolError::malformed(what, "shorter than its version"));
    }
    let version = buf.get_i16();
    if version < 0 {
        return Err(ProtocolError::malformed(what, format!("version {version}")));
    }
    T::decode(&mut buf, version.min(NEWEST)).map_err(|e| ProtocolError::malformed(what, e))
}

/// The version a client writes: v0 is read by every client that speaks the protocol
/// (kafka-python, librdkafka, Java), so a Brook consumer can share a group with them.
const WRITTEN: i16 = 0;

fn encode<T: Encodable>(value: &T, what: &'static str) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(WRITTEN);
    value
        .encode(&mut buf, WRITTEN)
        .map_err(|e| ProtocolError::malformed(what, e))?;
    Ok(buf.freeze())
}

/// A JoinGroup subscription naming `topics`.
pub fn encode_subscription(topics: &[String]) -> Result<Bytes, ProtocolError> {
    let subscription = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| StrBytes::from_string(t.clone())).collect());
    encode(&subscription, "consumer subscription")
}

/// A SyncGroup assignment of `partitions`, by topic.
pub fn encode_assignment(partitions: &[(String, Vec<i32>)]) -> Result<Bytes, ProtocolError> {
    let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(
        partitions
            .iter()
            .map(|(topic, partitions)| {
                TopicPartition::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(partitions.clone())
            })
            .collect(),
    );
    encode(&assignment, "consumer assignment")
}

/// The topics a consumer subscribes to.
pub fn subscribed_topics(subscription: &Bytes) -> Result<Vec<String>, ProtocolError> {
    let decoded: ConsumerProtocolSubscription = decode(subscription, "consumer subscription")?;
    Ok(decoded.topics.iter().map(|t| t.to_string()).collect())
}

/// The partitions assigned to a consumer, by topic. An empty payload (a member given
/// nothing) is no partitions.
pub fn assigned_partitions(assignment: &Bytes) -> Result<Vec<(String, Vec<i32>)>, ProtocolError> {
    if assignment.is_empty() {
        return Ok(Vec::new());
    }
    let decoded: ConsumerProtocolAssignment = decode(assignment, "consumer assignment")?;
    Ok(decoded
        .assigned_partitions
        .into_iter()
        .map(|tp| (tp.topic.0.to_string(), tp.partitions))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<T: Encodable>(value: &T, version: i16) -> Bytes {
        let mut buf = bytes::BytesMut::new();
        buf.put_i16(version);
        value.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn reads_subscriptions_and_assignments_of_every_version() {
        let subscription = ConsumerProtocolSubscription::default().with_topics(vec![
            StrBytes::from_static_str("orders"),
            StrBytes::from_static_str("refunds"),
        ]);
        let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            TopicPartition::default()
                .with_topic(TopicName(StrBytes::from_static_str("orders")))
                .with_partitions(vec![0, 2]),
        ]);
        for version in 0..=NEWEST {
            assert_eq!(
                subscribed_topics(&encoded(&subscription, version)).unwrap(),
                ["orders", "refunds"]
            );
            assert_eq!(
                assigned_partitions(&encoded(&assignment, version)).unwrap(),
                [("orders".to_owned(), vec![0, 2])]
            );
        }
        // A newer version is read as the newest known (its extra fields follow ours).
        let mut newer = encoded(&subscription, NEWEST).to_vec();
        newer[..2].copy_from_slice(&7i16.to_be_bytes());
        assert_eq!(subscribed_topics(&Bytes::from(newer)).unwrap().len(), 2);
    }

    #[test]
    fn what_a_client_writes_reads_back() {
        let topics = vec!["orders".to_owned(), "refunds".to_owned()];
        assert_eq!(
            subscribed_topics(&encode_subscription(&topics).unwrap()).unwrap(),
            topics
        );
        let partitions = vec![("orders".to_owned(), vec![0, 2]), ("refunds".to_owned(), vec![1])];
        assert_eq!(
            assigned_partitions(&encode_assignment(&partitions).unwrap()).unwrap(),
            partitions
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(subscribed_topics(&Bytes::from_static(b"\x00")).is_err());
        assert!(subscribed_topics(&Bytes::from_static(b"\x00\x00\x7f\xff\xff\xff")).is_err());
        assert!(assigned_partitions(&Bytes::from_static(b"\xff\xff")).is_err());
        assert!(assigned_partitions(&Bytes::new()).unwrap().is_empty());
    }
}
