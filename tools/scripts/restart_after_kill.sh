#!/usr/bin/env bash
# Restart after kill -9: starts `brook dev` on a fresh data dir, writes RECORDS records
# with kcat, kills it with SIGKILL, starts it again on the same data, and reports the
# time from the restart to the first record read back (kcat, once the port accepts).
# Repeats ROUNDS times on the same data.
#
# Usage: tools/scripts/restart_after_kill.sh [ROUNDS] [RECORDS]
set -euo pipefail
rounds=${1:-5}
records=${2:-10000}
port=29492
# shellcheck source=tools/scripts/dev_node.sh
. "$(dirname "$0")/dev_node.sh"
first_read() {
    # Wait for the port to accept first: a kcat started while it refuses waits out its
    # own timeouts, and this would measure kcat.
    until (exec 3<>/dev/tcp/${addr%:*}/${addr#*:}) 2>/dev/null; do sleep 0.005; done
    until kcat -C -b $addr -t restart -o beginning -c 1 -e -q >/dev/null 2>&1; do sleep 0.01; done
}
start
until kcat -L -b $addr -m 1 >/dev/null 2>&1; do sleep 0.05; done
seq 1 "$records" | kcat -P -b $addr -t restart -X message.timeout.ms=30000
for round in $(seq 1 "$rounds"); do
    kill -9 $pid
    wait $pid 2>/dev/null || true
    began=$(now_ms)
    start
    first_read
    echo "round $round: first read $(( $(now_ms) - began )) ms after the restart"
done
