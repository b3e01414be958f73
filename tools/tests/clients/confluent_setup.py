"""Set-up shared by the confluent-kafka checks: a topic, and numbered messages in it."""
from confluent_kafka import Producer
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
