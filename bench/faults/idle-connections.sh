#!/usr/bin/env bash
# Fault: CONNECTIONS (20000) idle TCP connections to Caravan's HTTP port, no bytes and no auth, held HOLD (30) s,
# while a legitimate caller asks /health/live and /v1/tasks once a second on fresh connections. Caravan runs with
# 20000 open files, as when this flood used to exhaust them. A process here may not raise its own limit, so the
# connections are held by several client processes of at most 10000 each.
#   bench/faults/idle-connections.sh
#   CONNECTIONS=5000 HOLD=20 bench/faults/idle-connections.sh
source "$(dirname "$0")/lib.sh"
CONNECTIONS=${CONNECTIONS:-20000}
HOLD=${HOLD:-30}
PER_CLIENT=10000
build
start_caravan
client() { # connections hold-seconds measure
  java -Xmx256m -cp "$FAULT_CP" -Dfault.port="$FAULT_PORT" -Dfault.pid="$CARAVAN_PID" -Dfault.connections="$1" \
      -Dfault.hold-seconds="$2" -Dfault.measure="$3" io.caravan.bench.EdgeFaults idle
}
HELPERS=$(( (CONNECTIONS - 1) / PER_CLIENT ))
HELPER_PIDS=()
for i in $(seq 1 "$HELPERS"); do
  client "$PER_CLIENT" $((HOLD + 60)) false >"$FAULT_WORK/helper-$i.txt" 2>&1 &
  HELPER_PIDS+=($!)
done
for i in $(seq 1 "$HELPERS"); do # the helpers hold theirs before the measuring client starts
  for _ in $(seq 240); do grep -q '^opened' "$FAULT_WORK/helper-$i.txt" && break; sleep 0.5; done
  cat "$FAULT_WORK/helper-$i.txt"
done
client $((CONNECTIONS - HELPERS * PER_CLIENT)) "$HOLD" true
curl -s "http://127.0.0.1:$FAULT_PORT/metrics" | grep -E '^caravan_http_connections' || true
for p in "${HELPER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${HELPER_PIDS[@]}" 2>/dev/null || true
verdict
