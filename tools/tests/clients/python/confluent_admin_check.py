"""confluent-kafka's AdminClient against a Brook broker: partitions, configs (incremental
and describe), cluster description, records deletion, offsets listing, topic deletion.

Usage: confluent_admin_check.py BOOTSTRAP TOPIC.
"""
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions,
                                   NewTopic, OffsetSpec, ResourceType)

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})


def wait(futures):
    return {k: f.result(10) for k, f in futures.items()}


wait(admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]))
wait(admin.create_partitions([NewPartitions(topic, 3)]))
described = admin.describe_topics(TopicCollection([topic]))[topic].result(10)
assert len(described.partitions) == 3, described

resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("retention.ms", "123456", incremental_operation=AlterConfigOpType.SET),
    ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
])
wait(admin.incremental_alter_configs([resource]))
configs = wait(admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]))
entries = list(configs.values())[0]
assert entries["retention.ms"].value == "123456", entries["retention.ms"]
assert entries["cleanup.policy"].value == "delete,compact", entries["cleanup.policy"]
bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
    ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)])
try:
    wait(admin.incremental_alter_configs([bad]))
    raise AssertionError("an invalid value was accepted")
except Exception as e:  # KafkaException(INVALID_CONFIG)
    assert "INVALID_CONFIG" in str(e) or "Invalid" in str(e) or "invalid" in str(e), e

cluster = admin.describe_cluster().result(10)
assert [n.id for n in cluster.nodes] == [1], cluster.nodes
assert cluster.cluster_id, cluster

producer = Producer({"bootstrap.servers": bootstrap})
for i in range(30):
    producer.produce(topic, value=b"m%d" % i, partition=0)
assert producer.flush(10) == 0

deleted = admin.delete_records([TopicPartition(topic, 0, 10)])
low = list(deleted.values())[0].result(10)
assert low.low_watermark == 10, low
earliest = admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})
assert list(earliest.values())[0].result(10).offset == 10
latest = admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.latest()})
assert list(latest.values())[0].result(10).offset == 30

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "brook-admin-check", "enable.auto.commit": False})
consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
first = None
for _ in range(20):
    msg = consumer.poll(1.0)
    if msg is not None and msg.error() is None:
        first = msg
        break
consumer.close()
assert first is not None and first.offset() == 10 and first.value() == b"m10", first

wait(admin.delete_topics([topic]))
assert topic not in admin.list_topics(timeout=10).topics
print("confluent-kafka admin ok", flush=True)
