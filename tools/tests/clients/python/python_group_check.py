"""kafka-python and aiokafka group consumers against a Brook broker: two members of one
group share a 4-partition topic, each message is read once, offsets are committed, and
the group resumes from them; then kafka-python's admin lists, describes and deletes it.

Usage: python_group_check.py BOOTSTRAP TOPIC CLIENT (CLIENT: kafka-python or aiokafka).
"""
import asyncio
import sys
import threading
import time

bootstrap, topic, client = sys.argv[1], sys.argv[2], sys.argv[3]
TOTAL = 2000
group = f"group-{topic}"


def produce():
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(TOTAL):
        producer.send(topic, key=b"k%d" % i, value=b"%d" % i)
    producer.flush()
    producer.close()


def kafka_python_members():
    from kafka import KafkaConsumer
    seen, lock, stop = {}, threading.Lock(), threading.Event()

    def member(name):
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                 enable_auto_commit=False)
        while not stop.is_set():
            for tp, records in consumer.poll(timeout_ms=200).items():
                for r in records:
                    with lock:
                        seen.setdefault(r.value, []).append(name)
                consumer.commit()
        consumer.close()

    threads = [threading.Thread(target=member, args=(f"m{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline and len(seen) < TOTAL:
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    return seen


async def aiokafka_members():
    from aiokafka import AIOKafkaConsumer
    seen = {}
    consumers = [AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                  enable_auto_commit=False) for _ in range(2)]
    for c in consumers:
        await c.start()
    deadline = time.time() + 60
    while time.time() < deadline and len(seen) < TOTAL:
        for name, c in enumerate(consumers):
            batches = await c.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    seen.setdefault(r.value, []).append(f"m{name}")
            if batches:
                await c.commit()
    for c in consumers:
        await c.stop()
    return seen


def leftover():
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=6000)
    extra = sum(1 for _ in consumer)
    consumer.close()
    return extra


def administer():
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    groups = dict(admin.list_consumer_groups())
    assert groups.get(group) == "consumer", groups
    [description] = admin.describe_consumer_groups([group])
    assert description.state == "Empty" and not description.members, description
    offsets = admin.list_consumer_group_offsets(group)
    assert sum(o.offset for o in offsets.values()) == TOTAL, offsets
    [(name, error)] = admin.delete_consumer_groups([group])
    assert name == group and error.errno == 0, error
    assert group not in dict(admin.list_consumer_groups())
    assert not admin.list_consumer_group_offsets(group)
    admin.close()


produce()
seen = kafka_python_members() if client == "kafka-python" else asyncio.run(aiokafka_members())
assert len(seen) == TOTAL, f"saw {len(seen)} of {TOTAL}"
twice = [v for v, names in seen.items() if len(names) > 1]
assert not twice, f"{len(twice)} messages read twice"
assert leftover() == 0, "the group did not resume from its commits"
administer()
print(f"{client} group ok: members {sorted({n[0] for n in seen.values()})}")
