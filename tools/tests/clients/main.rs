//! The clients and tools Kafka users bring, unchanged, against Brook: confluent-kafka,
//! kafka-python and aiokafka (`python/`), kafkajs (`js/`), franz-go and sarama (`go/`),
//! Kafka 4.4's Java client, command-line tools and Streams (`../../tests/kafka/`), and a
//! differential run of one scenario against Kafka 4.4 and Brook. Where a test checks an
//! expectation of a client, the same check also runs against Kafka 4.4.

#[path = "../common/mod.rs"]
mod common;

mod differential;
mod go;
mod java;
mod js;
mod kafka_tools;
mod python;
mod streams;
