"""Where librdkafka puts keyed records with the Java client's partitioner
(`partitioner=murmur2_random`): produces each key of stdin (one per line) to TOPIC and
prints "<key> <partition>" from its delivery reports.

Usage: key_partitions.py BOOTSTRAP TOPIC < keys
"""
import sys

from confluent_kafka import Producer

bootstrap, topic = sys.argv[1], sys.argv[2]
producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})


def report(error, message):
    if error is not None:
        sys.exit(f"delivery failed: {error}")
    print(message.key().decode(), message.partition())


for line in sys.stdin:
    producer.produce(topic, key=line.strip().encode(), value=b"v", on_delivery=report)
assert producer.flush(30) == 0, "messages left unsent"
