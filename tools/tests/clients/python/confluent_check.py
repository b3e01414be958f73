"""confluent-kafka (librdkafka 2.x) against a Brook broker: an acks=all producer with
lz4 and zstd, then an assigned consumer from the beginning: every message back, in
order per partition.

Usage: confluent_check.py BOOTSTRAP TOPIC.
"""
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
PARTITIONS, PER_CODEC = 4, 5000

admin = AdminClient({"bootstrap.servers": bootstrap})
for future in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]).values():
    future.result(10)

errors = []
sent = {}
for codec in ("lz4", "zstd"):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec, "linger.ms": 5})

    def delivered(err, msg):
        if err is not None:
            errors.append(err)
        else:
            sent[msg.value()] = (msg.partition(), msg.offset())

    for i in range(PER_CODEC):
        value = f"{codec}-{i}".encode()
        producer.produce(topic, key=f"key-{i % 50}".encode(), value=value, headers=[("codec", codec.encode())],
                         on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0, "messages left unsent"
assert not errors, errors[:3]
assert len(sent) == 2 * PER_CODEC, len(sent)

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "brook-assign-only",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
received = {}
last_offset = {}
idle = 0
while len(received) < len(sent) and idle < 20:
    msg = consumer.poll(1.0)
    if msg is None:
        idle += 1
        continue
    assert msg.error() is None, msg.error()
    p, o = msg.partition(), msg.offset()
    assert o > last_offset.get(p, -1), f"partition {p} went from {last_offset.get(p)} to {o}"
    last_offset[p] = o
    codec = dict(msg.headers())["codec"].decode()
    assert msg.value().decode().startswith(codec), (msg.value(), codec)
    received[msg.value()] = (p, o)
consumer.close()
assert received == sent, f"received {len(received)} of {len(sent)}"
print("confluent-kafka ok")
