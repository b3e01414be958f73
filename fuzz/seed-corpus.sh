#!/usr/bin/env bash
# Seeds the fuzz corpora from the golden request frames recorded from real clients.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/request_decode corpus/record_batch corpus/rpc_decode
for frame in ../tests/golden/requests/*.bin; do
  # request_decode takes the frame body: drop the 4-byte size prefix.
  tail -c +5 "$frame" > "corpus/request_decode/$(basename "$frame")"
done
