"""Preferred-leader election through confluent-kafka's AdminClient.elect_leaders:
prints "<partition> OK" or "<partition> <ERROR_NAME>" per partition named.

Usage: elect_preferred.py BOOTSTRAP TOPIC 0,1,2
"""
import sys
from confluent_kafka import ElectionType, TopicPartition
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
partitions = [TopicPartition(sys.argv[2], int(p)) for p in sys.argv[3].split(",")]
result = admin.elect_leaders(ElectionType.PREFERRED, partitions).result(30)
for tp, error in sorted(result.items(), key=lambda kv: kv[0].partition):
    print(tp.partition, error.name() if error else "OK")
