"""kafka-python against a Brook broker: admin, produce, fetch, offsets by time, configs.

Usage: kafka_python_check.py BOOTSTRAP TOPIC. Exits non-zero (with a reason) on any
mismatch.
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]

admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1, topic_configs={"retention.ms": "3600000"})])

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
base = int(time.time() * 1000) - 100_000
for i in range(300):
    producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 3, timestamp_ms=base + i * 100)
producer.flush()
producer.close()

consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
partitions = [TopicPartition(topic, p) for p in range(3)]
consumer.assign(partitions)
consumer.seek_to_beginning()
seen = {}
while len(seen) < 300:
    batches = consumer.poll(timeout_ms=5000)
    if not batches:
        break
    for tp, records in batches.items():
        for r in records:
            seen[r.value] = (tp.partition, r.offset, r.key, r.timestamp)
assert len(seen) == 300, f"consumed {len(seen)} of 300"
for i in range(300):
    partition, offset, key, ts = seen[b"v%d" % i]
    assert partition == i % 3 and offset == i // 3, f"v{i} at {partition}/{offset}"
    assert key == b"k%d" % i and ts == base + i * 100, f"v{i}: key {key!r} ts {ts}"

# The first record at or after a time: message 150 is in partition 0 at offset 50.
found = consumer.offsets_for_times({partitions[0]: base + 150 * 100})
assert found[partitions[0]].offset == 50, found
ends = consumer.end_offsets(partitions)
assert all(ends[tp] == 100 for tp in partitions), ends
consumer.close()

configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
assert entries.get("retention.ms") == "3600000", entries
assert entries.get("cleanup.policy") == "delete", entries
admin.close()
print("kafka-python ok")
