#!/usr/bin/env bash
# Runs a command and prints the CPU time (user + system, from /proc) it and every Brook
# server process used meanwhile, and the machine's busy time: the "CPU per byte" side of
# a benchmark. Server processes are those whose command line matches PATTERN (default:
# brook broker, controller or dev; set CPU_PATTERN for Kafka, e.g. 'kafka\.Kafka').
#
# Usage: tools/scripts/cpu_time.sh CMD [ARGS...]   (the command's output passes through;
#        the CPU lines go to stderr)
set -euo pipefail
pattern="${CPU_PATTERN:-brook (broker|controller|dev)}"
tick=$(getconf CLK_TCK)

servers() { # pid utime+stime (ticks) of each server process
  local pid
  for pid in $(pgrep -f "$pattern"); do
    [ "$pid" = "$$" ] && continue
    awk -v p="$pid" '{ sub(/^[^)]*\) /, ""); print p, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
  done
}
machine() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

before=$(servers)
busy_before=$(machine)
start=$(date +%s.%N)
# The command's own CPU time, its children included.
status=0
/usr/bin/time -f "%U %S" -o /tmp/cpu_time.$$ "$@" || status=$?
end=$(date +%s.%N)
after=$(servers)
busy_after=$(machine)
read -r cmd_user cmd_sys </tmp/cpu_time.$$
rm -f /tmp/cpu_time.$$
{
  total=0
  while read -r pid ticks; do
    [ -n "$pid" ] || continue
    old=$(awk -v p="$pid" '$1 == p { print $2 }' <<<"$before")
    used=$(( ticks - ${old:-0} ))
    total=$(( total + used ))
    awk -v p="$pid" -v u="$used" -v t="$tick" 'BEGIN { printf "cpu: server %s %.2f s\n", p, u / t }'
  done <<<"$after"
  awk -v s="$total" -v u="$cmd_user" -v y="$cmd_sys" -v b0="$busy_before" -v b1="$busy_after" \
    -v w0="$start" -v w1="$end" -v t="$tick" -v n="$(nproc)" 'BEGIN {
      printf "cpu: servers %.2f s, command %.2f s, machine busy %.2f s of %.2f s wall on %d cores\n",
        s / t, u + y, (b1 - b0) / t, w1 - w0, n }'
} >&2
exit "$status"
