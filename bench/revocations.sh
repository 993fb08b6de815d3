#!/usr/bin/env bash
# Revocation through the service, on loopback fakes: delivery -> the (fake) GitHub revocation
# endpoint receiving the token, and revocations per second the queue sustains (8 workers,
# SQLite). Runs each measurement RUNS times and prints the medians.
#   bench/revocations.sh [RUNS]        (default 3; add --release to CARGO_FLAGS for release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
flags=${CARGO_FLAGS:-}
out=$(mktemp)
for _ in $(seq "$runs"); do
  # shellcheck disable=SC2086
  cargo test -q $flags --test server -- revocation_latency revocation_throughput \
    --ignored --nocapture --test-threads 1 2>/dev/null | grep -oE '(delivery -> |gitlab: |github-batch: ).*' >>"$out"
done
cat "$out"
python3 - "$out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def med(prefix, pattern):
    vals = [float(m.group(1)) for l in lines if l.startswith(prefix) for m in [re.search(pattern, l)] if m]
    return statistics.median(vals) if vals else float("nan"), len(vals)
lat, n = med("delivery", r"median ([\d.]+) ms")
print(f"median of {n} runs: delivery -> revoked (GitHub) {lat:.1f} ms")
for lane in ("gitlab", "github-batch"):
    rate, n = med(lane, r"= (\d+)/s")
    print(f"median of {n} runs: {lane} {rate:.0f} revocations/s")
PY
rm -f "$out"
