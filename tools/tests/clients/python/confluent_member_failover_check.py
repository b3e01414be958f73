"""confluent-kafka group failover against a Brook broker: a member killed with SIGKILL
(no LeaveGroup) is dropped when its session expires, and the survivors take over its
partitions from its last commit: every message is seen, and re-read ones are only those
the killed member printed but had not committed yet (at most one per partition).

Usage: confluent_member_failover_check.py BOOTSTRAP TOPIC
       confluent_member_failover_check.py --member BOOTSTRAP TOPIC GROUP   (the victim)
"""
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer

from confluent_setup import create_topic, produce_numbers

TOTAL = 6000
SESSION_MS = 6000


def consumer(bootstrap, group):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": SESSION_MS,
                     "heartbeat.interval.ms": 500})


def victim(bootstrap, topic, group):
    """Prints each message (partition, value) before committing it, then slows down so
    that the parent can kill it mid-stream."""
    c = consumer(bootstrap, group)
    c.subscribe([topic])
    while True:
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        print(f"{msg.partition()} {msg.value().decode()}", flush=True)
        c.commit(message=msg, asynchronous=False)
        time.sleep(0.01)


if sys.argv[1] == "--member":
    victim(*sys.argv[2:5])
    sys.exit(0)

bootstrap, topic = sys.argv[1], sys.argv[2]
group = f"group-{topic}"
create_topic(bootstrap, topic, 6)
produce_numbers(bootstrap, topic, TOTAL, spread_over=6)

# The victim joins first, alone, and reads for a while.
child = subprocess.Popen([sys.executable, __file__, "--member", bootstrap, topic, group],
                         stdout=subprocess.PIPE, text=True)
victim_seen = []
reader = threading.Thread(target=lambda: victim_seen.extend(line.split() for line in child.stdout))
reader.start()

seen = {}
lock = threading.Lock()
stop = threading.Event()


def survivor(name):
    c = consumer(bootstrap, group)
    c.subscribe([topic])
    while not stop.is_set():
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        with lock:
            seen.setdefault(msg.value().decode(), []).append((name, msg.partition()))
        c.commit(message=msg, asynchronous=False)
    c.close()


# Wait until the victim reads, then start two more members and let them share the topic.
deadline = time.time() + 30
while len(victim_seen) < 50 and time.time() < deadline:
    time.sleep(0.1)
assert len(victim_seen) >= 50, "the victim never read"
threads = [threading.Thread(target=survivor, args=(f"s{i}",)) for i in range(2)]
for t in threads:
    t.start()
time.sleep(8)  # a rebalance hands the survivors part of the topic; the victim keeps some
child.send_signal(signal.SIGKILL)
child.wait()
reader.join()
killed_at = time.time()

deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        total = len(set(seen) | {v for _, v in victim_seen})
    if total >= TOTAL:
        break
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()

victim_values = {v: int(p) for p, v in victim_seen}
everything = set(seen) | set(victim_values)
assert len(everything) == TOTAL, f"saw {len(everything)} of {TOTAL} after the kill"
twice_among_survivors = {v: who for v, who in seen.items() if len(who) > 1}
assert not twice_among_survivors, f"survivors read twice: {list(twice_among_survivors.items())[:3]}"
reread = [v for v in seen if v in victim_values]
per_partition = {}
for v in reread:
    per_partition[victim_values[v]] = per_partition.get(victim_values[v], 0) + 1
assert all(n <= 1 for n in per_partition.values()), \
    f"survivors re-read more than the victim's uncommitted tail: {per_partition}"
victim_partitions = {int(p) for p, _ in victim_seen}
taken_over = {p for who in seen.values() for _, p in who if p in victim_partitions}
assert taken_over, "nobody took over the victim's partitions"
print(f"confluent-kafka member failover ok: victim read {len(victim_seen)}, survivors {len(seen)}, "
      f"re-read {len(reread)}, all {TOTAL} seen {time.time() - killed_at:.1f}s after the kill")
