"""Produce latency with confluent-kafka (librdkafka), until `brook bench produce`
exists: sends COUNT messages of SIZE bytes at RATE per second (0: as fast as it can)
to TOPIC and reports throughput and the send-to-acknowledgement latency percentiles.

Usage: produce_latency.py BOOTSTRAP TOPIC ACKS COUNT SIZE RATE
       (ACKS: 1 or all; e.g. produce_latency.py 127.0.0.1:9092 bench all 100000 1024 20000)
"""
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, acks = sys.argv[1], sys.argv[2], sys.argv[3]
count, size, rate = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
latencies = []
errors = []


def delivered(err, _msg, sent):
    if err is None:
        latencies.append(time.perf_counter() - sent)
    else:
        errors.append(err)


producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 1,
                     "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576})
value = b"x" * size
started = time.perf_counter()
for i in range(count):
    if rate > 0:
        due = started + i / rate
        while time.perf_counter() < due:
            producer.poll(0)
    now = time.perf_counter()
    producer.produce(topic, value=value, on_delivery=lambda err, msg, now=now: delivered(err, msg, now))
    producer.poll(0)
assert producer.flush(120) == 0, "messages left unsent"
elapsed = time.perf_counter() - started
latencies.sort()


def at(q):
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000


print(f"{len(latencies)} acked, {len(errors)} failed in {elapsed:.2f} s: {len(latencies) / elapsed:.0f} msg/s, "
      f"{len(latencies) * size / elapsed / 1e6:.1f} MB/s; latency ms p50 {at(0.5):.2f} p90 {at(0.9):.2f} "
      f"p99 {at(0.99):.2f} p99.9 {at(0.999):.2f} max {latencies[-1] * 1000:.2f}")
