#!/usr/bin/env bash
# Brook and Kafka 4.4 side by side on one machine, one after the other in the same run,
# with the same clients and topics (16 partitions, 1 KiB records, acks=all):
#   single   one node each: `brook dev` from the release build, `kafka.sh combined`;
#            topics with RF 1.
#   cluster  one controller and three brokers each: tools/scripts/local_cluster.sh,
#            `kafka.sh cluster`; topics with RF 3 and min.insync.replicas=2.
# throughput (the default): Kafka's ProducerPerformance (linger.ms=5, batch.size=16 KiB)
# and ConsumerPerformance, and, when RDKAFKA_PERFORMANCE names librdkafka's
# rdkafka_performance binary, that too (producer with librdkafka's defaults, then a
# group consumer), and `brook bench produce` / `consume` (Brook's own client). Prints one
# line per client run.
# latency: after 20 s of warm-up at the first rate, at each of RATES (messages/s,
# default "20000 40000"), for 12 s each, Kafka's
# ProducerPerformance (the first 2 s as warm-up, left out of its steady-state line) and
# `brook bench produce` (five batches in flight, latency counted from each message's due
# time, so a client that falls behind is not hidden); RECORDS is unused.
#
# Usage: tests/kafka/side_by_side.sh [RECORDS] [single|cluster] [throughput|latency]
#        (default 1000000 single throughput; build brook --release first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
records="${1:-1000000}"
layout="${2:-single}"
mode="${3:-throughput}"
rates="${RATES:-20000 40000}"
brook="${BROOK:-$root/target/release/brook}"
rdkafka="${RDKAFKA_PERFORMANCE:-}"
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

create() { # create BOOTSTRAP TOPIC
  local rf=1 extra=()
  if [ "$layout" = cluster ]; then
    rf=3
    extra=(--config min.insync.replicas=2)
  fi
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$1" --create --topic "$2" \
    --partitions 16 --replication-factor "$rf" "${extra[@]}" >/dev/null
}

measure() { # measure NAME BOOTSTRAP
  if [ "$mode" = latency ]; then
    measure_latency "$@"
    return
  fi
  local name="$1" b="$2"
  create "$b" bench
  local produced consumed
  produced=$(tool org.apache.kafka.tools.ProducerPerformance --topic bench --num-records "$records" \
    --record-size 1024 --throughput -1 \
    --command-property "bootstrap.servers=$b" acks=all linger.ms=5 batch.size=16384 \
    2>/dev/null | tail -n 1)
  consumed=$(tool org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$b" --topic bench \
    --num-records "$records" --timeout 60000 2>/dev/null | tail -n 1)
  echo "$name $layout ProducerPerformance: $produced"
  echo "$name $layout ConsumerPerformance: $consumed"
  # Brook's own client: with ProducerPerformance's batching, then with librdkafka's
  # (batch.size 1,000,000, linger.ms 5), each read back by one `brook bench consume`.
  create "$b" bench-brook
  produced=$("$brook" bench produce -b "$b" --topic bench-brook --acks all --count "$records" \
    --linger-ms 5 --batch-size 16384 --max-in-flight 5 2>/dev/null | head -n 1)
  echo "$name $layout brook bench produce (16 KiB batches): $produced"
  create "$b" bench-brook-1m
  produced=$("$brook" bench produce -b "$b" --topic bench-brook-1m --acks all --count "$records" \
    --linger-ms 5 --batch-size 1000000 --max-in-flight 5 2>/dev/null | head -n 1)
  echo "$name $layout brook bench produce (librdkafka's batching): $produced"
  consumed=$("$brook" bench consume -b "$b" --topic bench-brook --count "$records" 2>/dev/null | head -n 1)
  echo "$name $layout brook bench consume: $consumed"
  if [ -n "$rdkafka" ]; then
    create "$b" bench-rdkafka
    produced=$("$rdkafka" -P -t bench-rdkafka -b "$b" -s 1024 -c "$records" -a -1 2>&1 |
      grep -E 'messages produced' | tail -n 1)
    consumed=$("$rdkafka" -G "bench-$name" -t bench-rdkafka -b "$b" -c "$records" -o beginning \
      -X auto.offset.reset=earliest 2>&1 | grep -E 'messages.*consumed' | tail -n 1)
    echo "$name $layout rdkafka_performance produce: $produced"
    echo "$name $layout rdkafka_performance consume: $consumed"
  fi
}

measure_latency() { # measure_latency NAME BOOTSTRAP
  local name="$1" b="$2" rate line
  create "$b" latency
  # Warm-up (a JVM's JIT, connections, page cache) at the first rate, not reported.
  "$brook" bench produce -b "$b" --topic latency --acks all --rate "${rates%% *}" --duration 20 \
    --max-in-flight 5 >/dev/null 2>&1
  for rate in $rates; do
    fresh_caches
    line=$(tool org.apache.kafka.tools.ProducerPerformance --topic latency --num-records $((rate * 12)) \
      --warmup-records $((rate * 2)) --record-size 1024 --throughput "$rate" \
      --command-property "bootstrap.servers=$b" acks=all linger.ms=5 batch.size=16384 \
      2>/dev/null | tail -n 1)
    echo "$name $layout $rate/s ProducerPerformance: $line"
    fresh_caches
    line=$("$brook" bench produce -b "$b" --topic latency --acks all --rate "$rate" --duration 12 \
      --max-in-flight 5 2>/dev/null | sed -n 2p)
    echo "$name $layout $rate/s brook bench produce: $line"
  done
}

fresh_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }

fresh_caches
case "$layout" in
  single)
    "$brook" dev --data-dir "$work/brook" --kafka-addr 127.0.0.1:19192 --controller-addr 127.0.0.1:19193 \
      --metrics-addr 127.0.0.1:19194 >"$work/brook.log" 2>&1 &
    brook_pids=($!)
    brook_bootstrap=127.0.0.1:19192
    ;;
  cluster)
    brook_bootstrap=$(BROOK="$brook" "$root/tools/scripts/local_cluster.sh" "$work/brook" 3)
    mapfile -t brook_pids <"$work/brook/pids"
    ;;
  *)
    sed -n '2,20p' "$0" >&2
    exit 2
    ;;
esac
wait_for "${brook_bootstrap%%,*}"
measure brook "$brook_bootstrap"
# Brokers before the controller (local_cluster.sh lists the controller first).
for pid in $(printf '%s\n' "${brook_pids[@]}" | tac); do
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
done

fresh_caches
if [ "$layout" = single ]; then
  "$here/kafka.sh" combined "$work/kafka" 19292 19293 >"$work/kafka.log" 2>&1 &
  kafka_bootstrap=127.0.0.1:19292
else
  "$here/kafka.sh" cluster "$work/kafka" 19301 19393 >"$work/kafka.log" 2>&1 &
  kafka_bootstrap=127.0.0.1:19301,127.0.0.1:19302,127.0.0.1:19303
fi
kafka_pid=$!
wait_for "${kafka_bootstrap%%,*}"
if [ "$layout" = cluster ]; then
  # Every broker registered, so RF 3 can be placed.
  for _ in $(seq 1 120); do
    [ "$("$brook" cluster status -b "${kafka_bootstrap%%,*}" --format json 2>/dev/null |
      grep -o '"port"' | wc -l)" -ge 3 ] && break
    sleep 0.5
  done
fi
measure kafka-4.4 "$kafka_bootstrap"
kill -TERM "$kafka_pid"
wait "$kafka_pid" || true
