#!/usr/bin/env bash
# Load figures for docs/server.md: session starts and attestation decisions per second,
# with p50/p99 latency, from a second process on loopback, for
#   1. one server on SQLite,
#   2. one server on PostgreSQL,
#   3. two servers sharing one PostgreSQL.
# The client is `reclaim-lab load` (64 clients by default); decisions come from a managed
# device without evidence, so they exclude re-verification (measured by `reclaim-lab demo`
# and the reclaim_reverification_seconds metric).
#
# Usage: bench/server_load.sh [CLIENTS] [SECONDS]
#   (build first: cargo build --release -p reclaim-cli -p reclaim-lab)
# MAXCONN=N sets the read pool size (default 16).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RECLAIM_BIN:-target/release/reclaim}
LAB=${RECLAIM_LAB_BIN:-target/release/reclaim-lab}
CLIENTS=${1:-64}
SECONDS_=${2:-10}
AUDIENCE=https://reclaim.load.invalid
work=$(mktemp -d /tmp/reclaim-load.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -d "$work/pg" ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

config() { # name database-url port
  cat > "$work/$1.toml" <<TOML
listen = "127.0.0.1:$3"
public_url = "$AUDIENCE"
data_key = "$(printf '42%.0s' {1..32})"
reverify = false
[database]
url = "$2"
max_connections = ${MAXCONN:-16}
[directory]
kind = "demo"
file = "$work/directory-$1.json"
[policy]
# The decision without the engine (measured on its own): the managed device's signed
# claims decide alone, an operator's opt-in.
managed_requires_evidence = false
[limits]
sessions_per_user_per_hour = 1000000000
sessions_per_address_per_minute = 1000000000
requests_per_device_per_minute = 1000000000
TOML
}

serve() { # name port
  "$BIN" serve --config "$work/$1.toml" 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server $1 did not start:"; cat "$work/$1.log"; exit 1
}

stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}

load() { # label urls...
  local label=$1; shift
  local args=()
  for u in "$@"; do args+=(--url "$u"); done
  "$LAB" load "${args[@]}" --key "$work/device.key" --audience "$AUDIENCE" \
    --clients "$CLIENTS" --seconds "$SECONDS_" --json > "$work/$label.json" || true
  python3 - "$label" "$work/$label.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
s, d = r["sessions"], r["decisions"]
print(f"| {sys.argv[1]} | {r['instances']} | {r['clients']} | {s['per_second']} | {s['p50_ms']} | {s['p99_ms']} | {d['per_second']} | {d['p50_ms']} | {d['p99_ms']} | {s['errors'] + d['errors']} |")
PY
}

echo "| database | instances | clients | sessions/s | session p50 ms | session p99 ms | decisions/s | decision p50 ms | decision p99 ms | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

# 1. SQLite
config sqlite "sqlite://$work/reclaim.db" 18441
PUB=$("$BIN" device register --config "$work/sqlite.toml" --key-out "$work/device.key" --name load --tier managed --json \
  | python3 -c 'import sys, json; print(json.load(sys.stdin)["public_key"])')
serve sqlite 18441
load sqlite http://127.0.0.1:18441
stop_servers

# 2. PostgreSQL, started here (Debian's packages), and 3. two instances sharing it.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$work/pg" "$work/pgsock"
chown postgres "$work/pg" "$work/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -N -D "$work/pg" -U postgres --auth=trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -o "-p 18432 -c listen_addresses=127.0.0.1 -k $work/pgsock -c max_connections=200" -w start >/dev/null
runuser -u postgres -- "$PGBIN/psql" -h "$work/pgsock" -p 18432 -U postgres -qc "CREATE DATABASE reclaim" >/dev/null
PG=postgres://postgres@127.0.0.1:18432/reclaim
config pg "$PG" 18442
config pg2 "$PG" 18443
"$BIN" device register --config "$work/pg.toml" --public-key "$PUB" --name load --tier managed >/dev/null
serve pg 18442
load postgresql http://127.0.0.1:18442
serve pg2 18443
load postgresql-2-instances http://127.0.0.1:18442 http://127.0.0.1:18443
stop_servers
