"""confluent-kafka consumer groups against a Brook broker: three members of one group
share a 6-partition topic (each message seen by exactly one of them), commit, and a
restarted group resumes after the last commit with nothing to re-read.

Usage: confluent_group_check.py BOOTSTRAP TOPIC [ASSIGNOR].
"""
import sys
import threading
import time

from confluent_kafka import Consumer

from confluent_setup import create_topic, produce_numbers

bootstrap, topic = sys.argv[1], sys.argv[2]
assignor = sys.argv[3] if len(sys.argv) > 3 else "range"
TOTAL = 6000
group = f"group-{topic}"

create_topic(bootstrap, topic, 6)
produce_numbers(bootstrap, topic, TOTAL, keyed=True)

seen = {}
lock = threading.Lock()
stop = threading.Event()


def member(name):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "partition.assignment.strategy": assignor,
                         "session.timeout.ms": 10000})
    consumer.subscribe([topic])
    while not stop.is_set():
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        with lock:
            seen.setdefault(msg.value(), []).append(name)
        consumer.commit(message=msg, asynchronous=False)
    consumer.close()


threads = [threading.Thread(target=member, args=(f"m{i}",)) for i in range(3)]
for t in threads:
    t.start()
deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        if len(seen) >= TOTAL:
            break
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
assert len(seen) == TOTAL, f"saw {len(seen)} of {TOTAL}"
twice = {v: names for v, names in seen.items() if len(names) > 1}
assert not twice, f"{len(twice)} messages seen more than once, e.g. {list(twice.items())[:3]}"
members = {names[0] for names in seen.values()}
assert len(members) >= 2, f"only {members} consumed"

# The group restarts from its commits: nothing left to read.
again = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "partition.assignment.strategy": assignor})
again.subscribe([topic])
extra = 0
end = time.time() + 8
while time.time() < end:
    msg = again.poll(0.5)
    if msg is not None and not msg.error():
        extra += 1
again.close()
assert extra == 0, f"{extra} messages read again after the restart"
print(f"confluent-kafka group ({assignor}) ok: members {sorted(members)}")
