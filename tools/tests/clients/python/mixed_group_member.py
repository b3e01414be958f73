"""A confluent-kafka (librdkafka) consumer in a group that a Brook consumer also joins:
it subscribes with one assignment strategy, prints `assigned P,P` at each assignment,
and leaves the group when it reads `stop` on stdin, printing `read N` last.

Usage: mixed_group_member.py BOOTSTRAP TOPIC GROUP STRATEGY
"""
import sys
import threading

from confluent_kafka import Consumer

bootstrap, topic, group, strategy = sys.argv[1:5]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()


def on_assign(_consumer, partitions):
    print("assigned " + ",".join(str(p.partition) for p in partitions), flush=True)


consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "librdkafka-member",
                     "partition.assignment.strategy": strategy, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 10000, "heartbeat.interval.ms": 500})
consumer.subscribe([topic], on_assign=on_assign)
read = 0
while not stop.is_set():
    msg = consumer.poll(0.2)
    if msg is not None and not msg.error():
        read += 1
consumer.close()
print(f"read {read}", flush=True)
