#!/usr/bin/env bash
# Starts a local cluster for benchmarks: one controller and BROKERS brokers (default 3)
# from the release build, data under DIR; prints the bootstrap list. Stop it with
# `kill $(cat DIR/pids)`. Ports are below the ephemeral range (32768 and up), so an
# outgoing connection can never take one before its broker binds it.
#
# Usage: tools/scripts/local_cluster.sh DIR [BROKERS]
set -euo pipefail
dir=${1:?usage: local_cluster.sh DIR [BROKERS]}
brokers=${2:-3}
brook=${BROOK:-target/release/brook}
mkdir -p "$dir"
: > "$dir/pids"
voters="1@127.0.0.1:29093"
"$brook" controller --node-id 1 --controller-quorum-voters "$voters" \
    --metadata-log-dir "$dir/controller-1" --metrics-addr 127.0.0.1:29094 \
    > /dev/null 2> "$dir/controller-1.log" &
echo $! >> "$dir/pids"
bootstrap=()
for id in $(seq 1 "$brokers"); do
    port=$((29100 + id))
    "$brook" broker --node-id "$id" --controller-quorum-voters "$voters" \
        --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$dir/broker-$id" \
        --metrics-addr "127.0.0.1:$((29200 + id))" > /dev/null 2> "$dir/broker-$id.log" &
    echo $! >> "$dir/pids"
    bootstrap+=("127.0.0.1:$port")
done
(IFS=,; echo "${bootstrap[*]}")
