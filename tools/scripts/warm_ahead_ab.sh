#!/usr/bin/env bash
# Same binary with log.segment.warm.ahead.bytes off and on, alternating, each run on a
# fresh `brook dev` after 25 s idle (so memory freed by the run before has gone back to
# the host, as BENCHMARKS.md "What the machine charges for a page" describes).
#   tools/scripts/warm_ahead_ab.sh batch   # one batch of 1,000 x 1 KiB in flight, 1 partition
#   tools/scripts/warm_ahead_ab.sh rate    # 332,000 msg/s, 16 partitions, acks=all
set -euo pipefail
shape=${1:-batch}
B=${BROOK:-target/release/brook}
data=$(mktemp -d)
trap 'pkill -f "brook dev --data-dir $data" || true; rm -rf "$data"' EXIT
for ahead in 0 4194304 0 4194304; do
  rm -rf "$data/d"; sleep 25
  "$B" dev --data-dir "$data/d" --log-segment-warm-ahead-bytes "$ahead" >"$data/dev.log" 2>&1 &
  dev=$!
  sleep 4
  echo "log.segment.warm.ahead.bytes=$ahead"
  case $shape in
    batch)
      "$B" topic create one1 -p 1 -c max.message.bytes=2097152 >/dev/null
      "$B" bench produce --topic one1 --acks 1 --batch-messages 1000 --batch-size 1200000 \
        --duration 10 --broker-metrics 127.0.0.1:9644 ;;
    rate)
      "$B" topic create s16 -p 16 >/dev/null
      "$B" bench produce --topic s16 --acks all --rate 332000 --duration 10 --max-in-flight 5 \
        --broker-metrics 127.0.0.1:9644 ;;
    *) echo "usage: $0 batch|rate" >&2; exit 2 ;;
  esac 2>&1 | grep -E "produce:|latency|^Produce"
  kill "$dev"; wait "$dev" || true
done
