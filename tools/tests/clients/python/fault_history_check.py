"""The whole history of a replicated topic under faults (DESIGN.md §7, issue 17):
several idempotent confluent-kafka producers (acks=all) write to the same partitions
and a live consumer reads them, while the parent injects faults. At the end the topic is
read to its end and the history checked:
- lost: an acknowledged record not at the partition and offset its ack named;
- duplicated: a record in the log twice (the producers are idempotent);
- reordered: one producer's records to one partition acknowledged out of send order;
- read then lost: a record the live consumer read that is no longer at its offset;
- offsets not dense, or a producer failing fatally (OUT_OF_ORDER_SEQUENCE_NUMBER is how
  a lost write shows to an idempotent producer).

The parent talks over stdin: "fault NAME MS" (a fault began at MS, epoch milliseconds)
asks for the write failover: the time from MS until every partition has acknowledged a
message sent after MS; the answer is "failover NAME MILLIS". "stop" ends production and
runs the checks; the last line is a JSON summary.

Usage: fault_history_check.py BOOTSTRAP TOPIC PARTITIONS PRODUCERS
"""
import json
import os
import sys
import threading
import time

from confluent_kafka import KafkaException, Producer

from confluent_setup import consume_live, read_to_end

bootstrap, topic, partitions, producers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

lock = threading.Lock()
acked = {}            # (partition, offset) -> value
# Acknowledged without an offset: librdkafka reports a retry that succeeded after a
# "possibly persisted" error that way (as the Java client's RecordMetadata gives -1).
acked_unplaced = []   # (partition, value)
sent_order = {}       # value -> (producer, partition, seq)
acks_by_stream = {}   # (producer, partition) -> [(seq, offset)] in ack order
ack_times = {p: [] for p in range(partitions)}  # (sent_ms, acked_ms)
errors = {}
fatal = []
stop = threading.Event()


# How long librdkafka waits for an answer on a connection. An idempotent producer keeps
# its requests in flight to a frozen leader until they resolve, so this bounds write
# failover after SIGSTOP; BROOK_NETNS_SOCKET_TIMEOUT_MS tries other values.
SOCKET_TIMEOUT_MS = int(os.environ.get("BROOK_NETNS_SOCKET_TIMEOUT_MS", "5000"))


def now_ms():
    return int(time.time() * 1000)


def produce(index):
    config = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
              "linger.ms": 2, "message.timeout.ms": 120_000, "retry.backoff.ms": 50,
              "socket.timeout.ms": SOCKET_TIMEOUT_MS, "topic.metadata.refresh.interval.ms": 1000,
              "error_cb": lambda err: on_error(index, err)}
    producer = Producer(config)

    def delivered(err, msg, sent_ms, seq):
        with lock:
            if err is None:
                if msg.offset() is None:
                    acked_unplaced.append((msg.partition(), msg.value()))
                else:
                    acked[(msg.partition(), msg.offset())] = msg.value()
                    acks_by_stream.setdefault((index, msg.partition()), []).append((seq, msg.offset()))
                ack_times[msg.partition()].append((sent_ms, now_ms()))
            else:
                errors[err.name()] = errors.get(err.name(), 0) + 1

    seq = 0
    while not stop.is_set() and not fatal:
        partition = seq % partitions
        value = b"p%d-%d" % (index, seq)
        sent_order[value] = (index, partition, seq)
        sent_ms = now_ms()
        try:
            producer.produce(topic, value=value, partition=partition,
                             on_delivery=lambda err, msg, sent_ms=sent_ms, seq=seq: delivered(err, msg, sent_ms, seq))
        except BufferError:
            producer.poll(0.05)
            continue
        except KafkaException as e:
            with lock:
                fatal.append(f"producer {index}: {e}")
            break
        seq += 1
        producer.poll(0)
        if seq % 20 == 0:
            time.sleep(0.004)
    remaining = producer.flush(150)
    if remaining:
        with lock:
            fatal.append(f"producer {index}: {remaining} messages neither acknowledged nor failed")


def on_error(index, err):
    if err.fatal():
        with lock:
            fatal.append(f"producer {index}: {err.name()}: {err.str()}")


seen = []  # (partition, offset, value) read by the live consumer

threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
threads.append(threading.Thread(target=consume_live, args=(bootstrap, topic, partitions, stop, seen)))
for t in threads:
    t.start()
print("ready", flush=True)

failovers = {}
for line in sys.stdin:
    words = line.split()
    if words == ["stop"]:
        break
    if len(words) == 3 and words[0] == "fault":
        name, began = words[1], int(words[2])
        deadline = time.time() + 90
        restored = {}
        while len(restored) < partitions and time.time() < deadline and not fatal:
            with lock:
                for p in range(partitions):
                    if p not in restored:
                        after = next((a for s, a in ack_times[p] if s > began), None)
                        if after is not None:
                            restored[p] = after
            time.sleep(0.02)
        if len(restored) < partitions:
            print(f"failover {name} none", flush=True)
        else:
            millis = max(restored.values()) - began
            failovers.setdefault(name, []).append(millis)
            print(f"failover {name} {millis}", flush=True)
stop.set()
for t in threads:
    t.join()

final = {(p, o): v for p, o, v in read_to_end(bootstrap, topic, partitions, within=120)}
problems = []
for p in range(partitions):
    offsets = sorted(o for q, o in final if q == p)
    if offsets and offsets != list(range(offsets[0], offsets[0] + len(offsets))):
        problems.append(f"partition {p}: offsets not dense")
lost = [(k, v) for k, v in acked.items() if final.get(k) != v]
if lost:
    problems.append(f"{len(lost)} acknowledged records not where their ack said, e.g. {lost[:3]}")
placed = {(p, v) for (p, _), v in final.items()}
unplaced_lost = [(p, v) for p, v in acked_unplaced if (p, v) not in placed]
if unplaced_lost:
    problems.append(f"{len(unplaced_lost)} records acknowledged without an offset are not in their partition, "
                    f"e.g. {unplaced_lost[:3]}")
counts = {}
for v in final.values():
    counts[v] = counts.get(v, 0) + 1
duplicated = [v for v, n in counts.items() if n > 1]
if duplicated:
    problems.append(f"{len(duplicated)} records in the log more than once, e.g. {duplicated[:3]}")
reordered = []
for stream, acks in acks_by_stream.items():
    by_seq = sorted(acks)
    offsets = [o for _, o in by_seq]
    if offsets != sorted(offsets):
        reordered.append(stream)
# In the log itself, each producer's records to a partition stand in send order.
last_seq = {}
for (p, o), v in sorted(final.items()):
    producer, seq = v.decode().removeprefix("p").split("-")
    stream, seq = (int(producer), p), int(seq)
    if last_seq.get(stream, -1) >= seq:
        reordered.append(stream)
    last_seq[stream] = seq
if reordered:
    problems.append(f"records out of send order in (producer, partition) {sorted(set(reordered))[:3]}")
vanished = [(p, o, v) for p, o, v in seen if final.get((p, o)) != v]
if vanished:
    problems.append(f"{len(vanished)} records read and later gone, e.g. {vanished[:3]}")
problems.extend(fatal)
summary = {"acknowledged": len(acked) + len(acked_unplaced), "acknowledged_without_offset": len(acked_unplaced),
           "in_log": len(final), "read_live": len(seen),
           "delivery_errors": errors, "failovers_ms": failovers, "problems": problems}
print(json.dumps(summary), flush=True)
sys.exit(1 if problems else 0)
