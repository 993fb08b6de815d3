#!/usr/bin/env bash
# Load test of POST /webhooks/github: signed push deliveries from N keep-alive connections
# against `leakgate serve` on SQLite, then on a throwaway PostgreSQL cluster. Prints accepted
# deliveries per second, p50/p99 latency, non-202 responses, and whether every delivery was
# stored exactly once. Job workers are off (0): this measures intake, not scanning.
#
#   bench/webhooks.sh [DELIVERIES] [CONNECTIONS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30000}
C=${2:-32}
RUNS=${3:-3}
cargo build --release --quiet --bin leakgate
cargo build --release --quiet -p leakgate-server --example load
BIN=target/release/leakgate
LOAD=target/release/examples/load
SECRET=bench-webhook-secret
WORK=$(mktemp -d)
cleanup() {
  [ -f "$WORK/serve.pid" ] && kill "$(cat "$WORK/serve.pid")" 2>/dev/null || true
  if [ -n "${PGDATA_DIR:-}" ]; then $PGBIN/pg_ctl -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || \
    runuser -u postgres -- $PGBIN/pg_ctl -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# serve URL: starts the service on database URL, prints its address.
serve() {
  local url=$1 out=$WORK/serve-$RANDOM.out
  LEAKGATE_DATA_DIR=$WORK/data LEAKGATE_FINGERPRINT_KEY=00112233445566778899aabbccddeeff \
  LEAKGATE_SERVER__BIND=127.0.0.1:0 LEAKGATE_SERVER__WORKERS=0 LEAKGATE_DATABASE__URL=$url \
  LEAKGATE_GITHUB__WEBHOOK_SECRET=$SECRET LEAKGATE_CONFIG=/dev/null \
    $BIN serve >"$out" 2>"$out.err" &
  echo $! > "$WORK/serve.pid"
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$out"; then sed -n 's/.*listening on http:\/\///p' "$out" | head -1; return; fi
    sleep 0.05
  done
  echo "service did not start: $(cat "$out.err")" >&2; exit 1
}

run_backend() {
  local name=$1 make_url=$2
  for r in $(seq 1 "$RUNS"); do
    local url; url=$($make_url "$r")
    local addr; addr=$(serve "$url")
    echo -n "$name run $r: "
    $LOAD "$addr" "$SECRET" "$N" "$C" "$url" | tr '\n' ' '
    echo
    local pid; pid=$(cat "$WORK/serve.pid")
    kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  done
}

# SQLITE_QUERY=synchronous=full measures SQLite with an fsync per commit (every acknowledged
# delivery kept through a power failure; the default, normal, may lose about the last second).
sqlite_url() { echo "sqlite://$WORK/bench-$1.db${SQLITE_QUERY:+?$SQLITE_QUERY}"; }
run_backend sqlite sqlite_url

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then echo "no PostgreSQL binaries: skipping PostgreSQL"; exit 0; fi
PGDATA_DIR=$WORK/pg
PGPORT=$(free_port)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; chmod 755 "$WORK"; fi
as_pg $PGBIN/initdb -D "$PGDATA_DIR" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg $PGBIN/pg_ctl -D "$PGDATA_DIR" -l "$WORK/pg.log" -w -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c max_connections=200" start >/dev/null
pg_url() {
  as_pg $PGBIN/psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "CREATE DATABASE bench$1" >/dev/null
  echo "postgres://postgres@127.0.0.1:$PGPORT/bench$1"
}
run_backend postgres pg_url
