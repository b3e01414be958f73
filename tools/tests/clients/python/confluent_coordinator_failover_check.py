"""confluent-kafka across a group coordinator's death: the topic lives on broker 1, the
group's coordinator is broker 2. Half-way through, the parent SIGKILLs broker 2; the
consumer must find broker 1 as the new coordinator and carry on from its commits:
nothing it committed is read again, nothing is skipped, a fresh member of the group
resumes exactly where it stopped.

Usage: confluent_coordinator_failover_check.py BOOTSTRAP TOPIC
Prints "kill 2" when broker 2 should die and reads a line from stdin once it has.
"""
import sys
import time

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from confluent_setup import produce_numbers

TOTAL = 4000
PARTITIONS = 4

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap})
for f in admin.create_topics([NewTopic(topic, PARTITIONS, replica_assignment=[[1]] * PARTITIONS)]).values():
    f.result(10)
produce_numbers(bootstrap, topic, TOTAL, spread_over=PARTITIONS)


def coordinator(group):
    return admin.describe_consumer_groups([group])[group].result(10).coordinator.id


def group_on_broker_2():
    """A group id broker 2 coordinates; waits while the brokers may not yet all see
    broker 2 as live (then every group maps to broker 1)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            found = next((g for g in (f"{topic}-{i}" for i in range(64)) if coordinator(g) == 2), None)
        except KafkaException as e:  # no coordinator yet
            print(f"coordinator lookup: {e}", file=sys.stderr)
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("no group is coordinated by broker 2")


group = group_on_broker_2()


def consumer():
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False, "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 500})


c = consumer()
c.subscribe([topic])
seen = set()
last = {}        # partition -> last offset read
committed = {}   # partition -> offset of the last successful commit
failed_commits = []
rereads = 0


def read_until(count, within):
    global rereads
    deadline = time.time() + within
    while len(seen) < count:
        assert time.time() < deadline, f"read {len(seen)} of {count} within {within}s"
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        p, o = msg.partition(), msg.offset()
        if p in last and o <= last[p]:
            # Only a rebalance rewinds, and only to the last commit.
            assert o == committed.get(p, 0), \
                f"partition {p} rewound to {o}, its last commit was {committed.get(p)}"
            rereads += 1
        else:
            assert o == last.get(p, -1) + 1, f"partition {p} skipped from {last.get(p)} to {o}"
        last[p] = o
        seen.add(msg.value())
        try:
            c.commit(message=msg, asynchronous=False)
            committed[p] = o + 1
        except KafkaException as e:
            failed_commits.append(e.args[0].name())


read_until(TOTAL // 2, 60)
print("kill 2", flush=True)
assert sys.stdin.readline().strip() == "killed"
killed_at = time.time()
read_until(TOTAL, 90)
took = time.time() - killed_at
assert len(seen) == TOTAL
c.close()

assert coordinator(group) == 1, "broker 1 took the group over"
offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(10)
per_partition = {tp.partition: tp.offset for tp in offsets.topic_partitions}
assert per_partition == {p: TOTAL // PARTITIONS for p in range(PARTITIONS)}, per_partition

# A new member resumes from the commits: it reads exactly what is produced next.
produce_numbers(bootstrap, topic, 40, spread_over=PARTITIONS)
c = consumer()
c.subscribe([topic])
fresh = []
deadline = time.time() + 60
while len(fresh) < 40 and time.time() < deadline:
    msg = c.poll(0.2)
    if msg is not None and not msg.error():
        fresh.append((msg.partition(), msg.offset()))
more = c.consume(num_messages=100, timeout=1)
c.close()
assert sorted(fresh) == [(p, TOTAL // PARTITIONS + i) for p in range(PARTITIONS) for i in range(10)], fresh[:8]
assert not more, f"read past the new messages: {len(more)}"
print(f"confluent-kafka coordinator failover ok: {TOTAL} read, second half done {took:.1f}s after "
      f"the kill, {len(failed_commits)} commits refused ({sorted(set(failed_commits))}), "
      f"{rereads} re-read")
