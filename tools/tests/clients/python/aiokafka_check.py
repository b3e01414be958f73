"""aiokafka against a Brook broker: admin, produce, fetch, offsets by time, configs.

Usage: aiokafka_check.py BOOTSTRAP TOPIC.
"""
import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType


async def main(bootstrap, topic):
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip")
    await producer.start()
    base = int(time.time() * 1000) - 50_000
    for i in range(200):
        await producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 2, timestamp_ms=base + i * 10)
    await producer.flush()
    await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in range(2)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning()
    seen = {}
    deadline = time.time() + 20
    while len(seen) < 200 and time.time() < deadline:
        batches = await consumer.getmany(timeout_ms=1000)
        for tp, records in batches.items():
            for r in records:
                seen[r.value] = (tp.partition, r.offset, r.key, r.timestamp)
    assert len(seen) == 200, f"consumed {len(seen)} of 200"
    for i in range(200):
        partition, offset, key, ts = seen[b"v%d" % i]
        assert (partition, offset, key, ts) == (i % 2, i // 2, b"k%d" % i, base + i * 10), (i, seen[b"v%d" % i])
    found = await consumer.offsets_for_times({partitions[1]: base + 101 * 10})
    assert found[partitions[1]].offset == 50, found
    await consumer.stop()

    described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = {c[0]: c[1] for c in described[0].resources[0][4]}
    assert entries.get("cleanup.policy") == "delete", entries
    await admin.close()
    print("aiokafka ok")


asyncio.run(main(sys.argv[1], sys.argv[2]))
