"""Set-up shared by the confluent-kafka checks: a topic, numbered messages in it, and
reading it all back."""
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(bootstrap, topic, partitions):
    """Creates the topic (RF 1) and returns the admin client."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        f.result(10)
    return admin


def produce_numbers(bootstrap, topic, total, spread_over=None, keyed=False):
    """Values b"0".. b"total-1"; message i goes to partition i % spread_over when given
    (else the partitioner decides), keyed b"k<i>" when asked."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(total):
        extra = {"partition": i % spread_over} if spread_over else {}
        if keyed:
            extra["key"] = b"k%d" % i
        producer.produce(topic, value=b"%d" % i, **extra)
    assert producer.flush(30) == 0, "messages left unsent"


def read_to_end(bootstrap, topic, partitions, within=60):
    """Every message of the topic's partitions from offset 0 to each one's end, in
    order per partition, as (partition, offset, value)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    messages = []
    at_end = set()
    deadline = time.time() + within
    while len(at_end) < partitions and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            at_end.add(msg.partition())
            continue
        messages.append((msg.partition(), msg.offset(), msg.value()))
    consumer.close()
    assert len(at_end) == partitions, f"read {len(at_end)} of {partitions} partitions to their end"
    return messages


def consume_live(bootstrap, topic, partitions, stop, seen):
    """Reads every partition from offset 0 until `stop` (a threading.Event) is set,
    appending (partition, offset, value) to `seen` as records arrive."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "topic.metadata.refresh.interval.ms": 1000})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    while not stop.is_set():
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error():
            seen.append((msg.partition(), msg.offset(), msg.value()))
    consumer.close()
