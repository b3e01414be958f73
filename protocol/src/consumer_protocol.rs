//! The "consumer" protocol type's opaque payloads, as clients put them into JoinGroup
//! (subscription) and SyncGroup (assignment): a version, then the body. The broker reads
//! them only for admin answers (OffsetDelete's `GROUP_SUBSCRIBED_TO_TOPIC`, `brook group
//! describe`); the group protocol itself relays them as bytes.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafka_protocol::protocol::Decodable;

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
    use bytes::BufMut;
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::{Encodable, StrBytes};

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
    fn garbage_is_an_error_not_a_panic() {
        assert!(subscribed_topics(&Bytes::from_static(b"\x00")).is_err());
        assert!(subscribed_topics(&Bytes::from_static(b"\x00\x00\x7f\xff\xff\xff")).is_err());
        assert!(assigned_partitions(&Bytes::from_static(b"\xff\xff")).is_err());
        assert!(assigned_partitions(&Bytes::new()).unwrap().is_empty());
    }
}
