"""confluent-kafka group administration against a Brook broker: ListGroups with a state
filter, DescribeGroups (members, hosts, assignments, authorized operations), committed offsets, DeleteGroups
refused while members are active and accepted once the group is empty, and a group
known only by its offsets (a standalone consumer's commits).

Usage: confluent_group_admin_check.py BOOTSTRAP TOPIC
"""
import sys
import time

from confluent_kafka import Consumer, ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaError, TopicPartition

from confluent_setup import create_topic, produce_numbers

bootstrap, topic = sys.argv[1], sys.argv[2]
group, standalone = f"group-{topic}", f"standalone-{topic}"
admin = create_topic(bootstrap, topic, 3)
produce_numbers(bootstrap, topic, 300, spread_over=3)


def listed(states=None):
    kwargs = {"states": states} if states else {}
    result = admin.list_consumer_groups(request_timeout=10, **kwargs).result()
    return {g.group_id: g for g in result.valid}


def describe(name, **options):
    return admin.describe_consumer_groups([name], request_timeout=10, **options)[name].result()


consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "admin-check",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
read = 0
deadline = time.time() + 30
while read < 300 and time.time() < deadline:
    msg = consumer.poll(0.2)
    if msg is not None and not msg.error():
        read += 1
assert read == 300, f"read {read}"
consumer.commit(asynchronous=False)

stable = listed({ConsumerGroupState.STABLE})
assert group in stable, f"{group} not listed as stable: {stable}"
assert not stable[group].is_simple_consumer_group
assert group not in listed({ConsumerGroupState.EMPTY})

description = describe(group)
assert description.state == ConsumerGroupState.STABLE, description.state
assert description.partition_assignor == "range", description.partition_assignor
[member] = description.members
assert member.client_id == "admin-check" and member.host.endswith("127.0.0.1"), (member.client_id, member.host)
assigned = sorted(tp.partition for tp in member.assignment.topic_partitions)
assert assigned == [0, 1, 2], assigned
# No authorizer: everything a group allows, as Kafka answers without ACLs.
operations = describe(group, include_authorized_operations=True).authorized_operations
assert sorted(op.name for op in operations) == ["DELETE", "DESCRIBE", "READ"], operations

offsets = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result()
assert sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions) == [(0, 100), (1, 100), (2, 100)], \
    offsets.topic_partitions

refused = admin.delete_consumer_groups([group], request_timeout=10)[group]
try:
    refused.result()
    raise AssertionError("deleting a group with an active member succeeded")
except Exception as e:  # KafkaException wrapping NON_EMPTY_GROUP
    assert e.args[0].code() == KafkaError.NON_EMPTY_GROUP, e

consumer.close()
deadline = time.time() + 10
while group not in listed({ConsumerGroupState.EMPTY}) and time.time() < deadline:
    time.sleep(0.2)
assert group in listed({ConsumerGroupState.EMPTY}), "the group did not become empty"
assert describe(group).state == ConsumerGroupState.EMPTY

# A standalone consumer (assign, no subscription) commits: its group exists by its offsets.
loner = Consumer({"bootstrap.servers": bootstrap, "group.id": standalone, "enable.auto.commit": False})
loner.commit(offsets=[TopicPartition(topic, 0, 42)], asynchronous=False)
loner.close()
everyone = listed()
assert standalone in everyone and everyone[standalone].is_simple_consumer_group, everyone.get(standalone)

for name in (group, standalone):
    admin.delete_consumer_groups([name], request_timeout=10)[name].result()
remaining = listed()
assert group not in remaining and standalone not in remaining, remaining
assert describe(group).state == ConsumerGroupState.DEAD
try:
    admin.delete_consumer_groups([group], request_timeout=10)[group].result()
    raise AssertionError("deleting a deleted group succeeded")
except Exception as e:
    assert e.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND, e
print("confluent-kafka group admin ok")
