#!/usr/bin/env bash
# Brook and Kafka 4.4 side by side on one machine, one after the other in the same run:
# a single node each (`brook dev` from the release build, `kafka.sh combined`), the same
# topic (16 partitions, RF 1), Kafka's ProducerPerformance (acks=all, linger.ms=5,
# batch.size=16 KiB, 1 KiB records) and ConsumerPerformance. Prints one line per run.
#
# Usage: tests/kafka/side_by_side.sh [RECORDS]   (default 1000000; build brook --release first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
records="${1:-1000000}"
brook="${BROOK:-$root/target/release/brook}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

tool() { "$here/kafka.sh" run "$@"; }

wait_for() { # wait_for BOOTSTRAP
  for _ in $(seq 1 120); do
    "$brook" cluster status -b "$1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "nothing serves on $1" >&2
  exit 1
}

measure() { # measure NAME BOOTSTRAP
  local name="$1" b="$2"
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$b" --create --topic bench \
    --partitions 16 --replication-factor 1 >/dev/null
  local produced consumed
  produced=$(tool org.apache.kafka.tools.ProducerPerformance --topic bench --num-records "$records" \
    --record-size 1024 --throughput -1 \
    --command-property "bootstrap.servers=$b" acks=all linger.ms=5 batch.size=16384 \
    2>/dev/null | tail -n 1)
  consumed=$(tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$b" --topic bench \
    --num-records "$records" --timeout 60000 2>/dev/null | tail -n 1)
  echo "$name produce: $produced"
  echo "$name consume: $consumed"
}

sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
"$brook" dev --data-dir "$work/brook" --kafka-addr 127.0.0.1:19192 --controller-addr 127.0.0.1:19193 \
  --metrics-addr 127.0.0.1:19194 >"$work/brook.log" 2>&1 &
brook_pid=$!
wait_for 127.0.0.1:19192
measure brook 127.0.0.1:19192
kill -TERM "$brook_pid"; wait "$brook_pid" || true

sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
"$here/kafka.sh" combined "$work/kafka" 19292 19293 >"$work/kafka.log" 2>&1 &
kafka_pid=$!
wait_for 127.0.0.1:19292
measure kafka-4.4 127.0.0.1:19292
kill -TERM "$kafka_pid"; wait "$kafka_pid" || true
