"""Cluster-wide dynamic defaults are applied, and a refused topic config changes nothing
(issue 18), driven through confluent-kafka's and kafka-python's admin clients.

1. A topic of small segments, some records; then `log.retention.ms=1000` set for the
   whole cluster (the broker resource with an empty name): the old segments must go.
2. `segment.bytes=3000000000` (past a 32-bit int) on a topic with `retention.ms` set is
   refused with INVALID_CONFIG, and the topic keeps its configs, in effect.
Prints one JSON line. Usage: cluster_config_check.py BOOTSTRAP
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic, ResourceType)

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})


def log_start(topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.close()
    return low, high


def set_configs(resource_type, name, pairs):
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in pairs]
    resource = ConfigResource(resource_type, name, incremental_configs=entries)
    return admin.incremental_alter_configs([resource])[resource]


def describe(topic):
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: (entry.value, str(entry.source)) for name, entry in configs.items()}


admin.create_topics([NewTopic("retained", 1, 1, config={"segment.bytes": "1024"})])["retained"].result(10)
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
for i in range(200):
    producer.produce("retained", value=b"x" * 100, partition=0)
    producer.poll(0)
    producer.flush()  # one batch per record: many segments
before = log_start("retained")
# confluent-kafka refuses a resource with an empty name; kafka-python sends it (AlterConfigs).
from kafka.admin import ConfigResource as KafkaPythonResource, ConfigResourceType, KafkaAdminClient

cluster_wide = KafkaPythonResource(ConfigResourceType.BROKER, "", configs={"log.retention.ms": "1000"})
answer = KafkaAdminClient(bootstrap_servers=bootstrap).alter_configs([cluster_wide])
assert all(code == 0 for code, *_ in answer.resources), answer
deadline = time.monotonic() + 30
while log_start("retained")[0] == 0 and time.monotonic() < deadline:
    time.sleep(0.2)
after = log_start("retained")
retention_described = describe("retained")["retention.ms"]

admin.create_topics([NewTopic("guarded", 1, 1, config={"retention.ms": "60000"})])["guarded"].result(10)
try:
    set_configs(ResourceType.TOPIC, "guarded", [("segment.bytes", "3000000000")]).result(timeout=10)
    refused = None
except KafkaException as e:
    refused = e.args[0].name()
guarded = describe("guarded")

print(json.dumps({
    "log_start_before": before[0], "end": before[1], "log_start_after": after[0],
    "retention_described": retention_described,
    "refused": refused,
    "guarded_segment_bytes": guarded["segment.bytes"],
    "guarded_retention_ms": guarded["retention.ms"],
}), flush=True)
