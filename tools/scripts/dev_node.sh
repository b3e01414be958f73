# Sourced by the restart scripts: one `brook dev` on a temporary data dir ($dir, kept
# with KEEP=1), listening on 127.0.0.1:PORT (Kafka), PORT+1 (controller) and PORT+2
# (metrics), with DEV_FLAGS added to its command line. `start` (re)starts it as $pid;
# the script's exit kills it.
# Usage: port=29492; . "$(dirname "$0")/dev_node.sh"
brook=${BROOK:-target/release/brook}
dir=$(mktemp -d)
[ -z "${KEEP:-}" ] || echo "data and log in $dir"
trap 'kill -9 $pid 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
# shellcheck disable=SC2154 # port is the caller's
addr=127.0.0.1:$port
start() {
    # shellcheck disable=SC2086
    "$brook" dev --data-dir "$dir/data" --kafka-addr "$addr" --controller-addr 127.0.0.1:$((port + 1)) \
        --metrics-addr 127.0.0.1:$((port + 2)) ${DEV_FLAGS:-} >> "$dir/dev.log" 2>&1 &
    pid=$!
}
now_ms() { date +%s%3N; }
