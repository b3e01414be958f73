"""Idempotent producers (enable.idempotence) from confluent-kafka and aiokafka against a
Brook broker: both get a producer id, every message is acknowledged, and the log holds
each exactly once, in the order each producer sent it per partition.

With --kill-midway, the parent SIGKILLs and restarts the broker while confluent-kafka is
producing (the script prints "kill" a third of the way and goes on producing): librdkafka
re-sends what was in flight with the same sequence numbers, and the broker, which
rebuilt its producer state from the log, must keep the batches it already had only once.

With --pause-midway, the parent pauses the broker (SIGSTOP) for longer than the
producer's request timeout instead: librdkafka gives up on the requests in flight and
sends them again, while the broker, once resumed, appends the first copies; the retries
must be answered from the log, not appended again.

Usage: idempotent_check.py BOOTSTRAP TOPIC [--kill-midway | --pause-midway]
"""
import asyncio
import sys
import time
from collections import Counter

from aiokafka import AIOKafkaProducer
from confluent_kafka import Producer

from confluent_setup import create_topic, read_to_end

PARTITIONS = 6
CONFLUENT = 30_000
AIOKAFKA = 5_000

bootstrap, topic = sys.argv[1], sys.argv[2]
fault = {"--kill-midway": "kill", "--pause-midway": "pause"}.get(sys.argv[3] if len(sys.argv) > 3 else "")
create_topic(bootstrap, topic, PARTITIONS)

failures = []


def delivered(err, msg):
    if err is not None:
        failures.append(err)


config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
          "compression.type": "lz4", "message.timeout.ms": 120_000}
if fault == "pause":
    # librdkafka's client-side timeout for a produce request in flight.
    config["socket.timeout.ms"] = 1000
producer = Producer(config)
for i in range(CONFLUENT):
    producer.produce(topic, key=b"c%d" % (i % 97), value=b"c-%d" % i, on_delivery=delivered)
    producer.poll(0)
    if i % 10 == 0:
        time.sleep(0.001)  # a steady stream over a few seconds: requests are always in flight
    if fault and i == CONFLUENT // 3:
        print(fault, flush=True)
assert producer.flush(120) == 0, "messages left unsent"
assert not failures, f"delivery failures: {failures[:3]}"


async def aiokafka_produce():
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await p.start()
    sends = [await p.send(topic, key=b"a%d" % (i % 31), value=b"a-%d" % i) for i in range(AIOKAFKA)]
    await asyncio.gather(*sends)
    await p.stop()

asyncio.run(aiokafka_produce())

expected = CONFLUENT + AIOKAFKA
seen = [(p, v.decode()) for p, _, v in read_to_end(bootstrap, topic, PARTITIONS)]

values = [v for _, v in seen]
twice = {v for v, n in Counter(values).items() if n > 1}
assert not twice, f"written more than once: {sorted(twice)[:5]} ({len(values) - len(set(values))} extra)"
assert len(values) == expected, f"{len(values)} messages in the log, {expected} sent"
for prefix in ("c-", "a-"):
    for p in range(PARTITIONS):
        numbers = [int(v[len(prefix):]) for q, v in seen if q == p and v.startswith(prefix)]
        assert numbers == sorted(numbers), f"{prefix} out of order in partition {p}"
print(f"idempotent producers ok: {len(values)} messages, each once, in order"
      f"{' across a broker ' + fault if fault else ''}")
