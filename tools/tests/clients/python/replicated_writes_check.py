"""Acknowledged writes across failures (DESIGN.md §7), with confluent-kafka against a
replicated Brook cluster: a producer (acks=all, no idempotence) and a consumer run
while the parent kills and restarts nodes. Afterwards every acknowledged record must be
in the log at exactly the partition and offset its ack gave, each partition's offsets
dense, and every record the consumer saw still there (it never read one that was later
truncated).

The parent talks over stdin: "killed P MS" (the leader of partition P died at MS, epoch
milliseconds) asks for the failover time: from the kill to the first ack of a message
to partition P sent after it (which only a new leader can give); "stop" ends production.

Usage: replicated_writes_check.py BOOTSTRAP TOPIC PARTITIONS
"""
import sys
import threading
import time

from confluent_kafka import Producer

from confluent_setup import consume_live, read_to_end

bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])

lock = threading.Lock()
acked = {}          # (partition, offset) -> value
# per partition: (time sent, time acknowledged), in ack order (ms)
ack_times = {p: [] for p in range(partitions)}
failed = 0
stop = threading.Event()


def delivered(err, msg, sent_ms):
    global failed
    with lock:
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.value()
            ack_times[msg.partition()].append((sent_ms, int(time.time() * 1000)))
        else:
            failed += 1


def produce():
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                         "linger.ms": 2, "message.timeout.ms": 60_000, "retry.backoff.ms": 50,
                         "socket.timeout.ms": 5000, "topic.metadata.refresh.interval.ms": 1000})
    seq = 0
    while not stop.is_set():
        sent_ms = int(time.time() * 1000)
        producer.produce(topic, value=b"v-%d" % seq, partition=seq % partitions,
                         on_delivery=lambda err, msg, sent_ms=sent_ms: delivered(err, msg, sent_ms))
        seq += 1
        producer.poll(0)
        if seq % 50 == 0:
            time.sleep(0.005)
    remaining = producer.flush(90)
    assert remaining == 0, f"{remaining} messages neither acknowledged nor failed"


seen = []  # (partition, offset, value) read by the live consumer

threads = [threading.Thread(target=produce),
           threading.Thread(target=consume_live, args=(bootstrap, topic, partitions, stop, seen))]
for t in threads:
    t.start()
print("ready", flush=True)

failovers = []
for line in sys.stdin:
    words = line.split()
    if words == ["stop"]:
        break
    if words and words[0] == "killed":
        partition, killed_at = int(words[1]), int(words[2])
        deadline = time.time() + 60
        after = None
        while after is None and time.time() < deadline:
            with lock:
                after = next((acked_ms for sent_ms, acked_ms in ack_times[partition] if sent_ms > killed_at), None)
            time.sleep(0.05)
        assert after is not None, f"no ack from partition {partition} within 60 s of its leader's death"
        failovers.append(after - killed_at)
        print(f"failover {after - killed_at}", flush=True)
stop.set()
for t in threads:
    t.join()

# Everything now in the log, read to the end of every partition.
final = {(p, o): v for p, o, v in read_to_end(bootstrap, topic, partitions)}

for p in range(partitions):
    offsets = sorted(o for q, o in final if q == p)
    assert offsets == list(range(len(offsets))), f"partition {p}: offsets not dense"
lost = [(k, v) for k, v in acked.items() if final.get(k) != v]
assert not lost, f"{len(lost)} acknowledged records not where their ack said, e.g. {lost[:3]}"
vanished = [(p, o, v) for p, o, v in seen if final.get((p, o)) != v]
assert not vanished, f"{len(vanished)} records read and later truncated, e.g. {vanished[:3]}"
assert len(acked) > 1000, f"only {len(acked)} acknowledged"
print(f"replicated writes ok: {len(acked)} acknowledged, {failed} failed, {len(final)} in the log, "
      f"{len(seen)} read live; failovers ms: {sorted(failovers)}", flush=True)
