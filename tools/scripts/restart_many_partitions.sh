#!/usr/bin/env bash
# Restart with many partitions: starts `brook dev` on a fresh data dir, creates a topic of
# PARTITIONS partitions, writes to it for SECONDS with `brook bench produce`, stops the
# node cleanly (SIGTERM) and starts it again ROUNDS times, each time after dropping the
# page, dentry and inode caches (COLD=0 keeps them), and reports the time from the
# restart to the first acknowledged produce to the topic's last partition.
#
# Usage: tools/scripts/restart_many_partitions.sh [PARTITIONS] [SECONDS] [ROUNDS]
# Run as root (drop_caches). Extra `brook dev` flags in DEV_FLAGS (tools/scripts/dev_node.sh).
set -euo pipefail
partitions=${1:-10000}
seconds=${2:-10}
rounds=${3:-2}
port=29592
# shellcheck source=tools/scripts/dev_node.sh
. "$(dirname "$0")/dev_node.sh"
first_produce() {
    until (exec 3<>/dev/tcp/${addr%:*}/${addr#*:}) 2>/dev/null; do sleep 0.005; done
    until echo x | timeout 10 "$brook" produce -b $addr many -p $((partitions - 1)) --acks all \
        -X delivery.timeout.ms=2000 >/dev/null 2>&1; do sleep 0.01; done
}
start
until "$brook" cluster status -b $addr >/dev/null 2>&1; do sleep 0.05; done
began=$(now_ms)
"$brook" topic create -b $addr many -p "$partitions" >/dev/null
first_produce
echo "created $partitions partitions (to the first produce to the last) in $(( $(now_ms) - began )) ms"
"$brook" bench produce -b $addr --topic many --acks 1 --duration "$seconds" --max-in-flight 5 | grep -E "msg/s|MB/s" | head -2
for round in $(seq 1 "$rounds"); do
    kill -TERM $pid
    began=$(now_ms)
    wait $pid 2>/dev/null || true
    echo "round $round: clean stop took $(( $(now_ms) - began )) ms; $(du -sh "$dir/data" | cut -f1) of data"
    [ "${COLD:-1}" = 0 ] || { sync; echo 3 > /proc/sys/vm/drop_caches; }
    began=$(now_ms)
    start
    first_produce
    echo "round $round: first acknowledged produce $(( $(now_ms) - began )) ms after the restart"
done
