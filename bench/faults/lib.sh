# Shared by bench/faults/*.sh: builds Caravan and the fault client, starts Caravan from target/caravan.jar on
# 127.0.0.1 with a temporary catalog and data folder (the shipped catalog answers with no provider keys), and
# stops it on exit. Caravan runs with the file limit of the machine it was measured on (FAULT_CARAVAN_NOFILE).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
FAULT_PORT=${FAULT_PORT:-18080}
FAULT_KAFKA_PORT=${FAULT_KAFKA_PORT:-19092}
FAULT_CARAVAN_NOFILE=${FAULT_CARAVAN_NOFILE:-20000}
FAULT_CARAVAN_JAVA_OPTS=${FAULT_CARAVAN_JAVA_OPTS:--Xmx1g}

build() {
  mvn -B -o -q package -DskipTests
  mvn -B -o -q test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
  FAULT_CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
}

start_caravan() { # extra -D settings as arguments
  FAULT_WORK=$(mktemp -d)
  cp catalog.yaml "$FAULT_WORK/"
  ( ulimit -n "$FAULT_CARAVAN_NOFILE"; exec java $FAULT_CARAVAN_JAVA_OPTS "$@" \
      -Dcaravan.catalog="$FAULT_WORK/catalog.yaml" -Dcaravan.embedded-kafka.dir="$FAULT_WORK/kafka" \
      -Dcaravan.embedded-kafka.port="$FAULT_KAFKA_PORT" -Dcaravan.http.port="$FAULT_PORT" \
      -jar target/caravan.jar run >"$FAULT_WORK/caravan.log" 2>&1 ) &
  CARAVAN_PID=$!
  trap stop_caravan EXIT
  for _ in $(seq 120); do
    if curl -fs "http://127.0.0.1:$FAULT_PORT/health/live" >/dev/null 2>&1; then
      echo "Caravan up (pid $CARAVAN_PID, $FAULT_CARAVAN_JAVA_OPTS, open files limit $FAULT_CARAVAN_NOFILE)"
      warm_up "$@"
      return
    fi
    sleep 0.5
  done
  echo "Caravan did not start; log:"; tail -50 "$FAULT_WORK/caravan.log"; exit 1
}

# a few tasks first, so the figures are not a cold JVM's first calls
warm_up() {
  local auth=()
  for a in "$@"; do [[ "$a" == -Dcaravan.http.api-keys=* ]] && auth=(-H "Authorization: Bearer ${a#*=}"); done
  for _ in $(seq 20); do
    curl -s -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -d '{"prompt":"warm up"}' \
        "http://127.0.0.1:$FAULT_PORT/v1/tasks" || true
  done
}

# what Caravan logged about running out of files or memory, and whether it is still up
verdict() {
  if kill -0 "$CARAVAN_PID" 2>/dev/null; then echo "Caravan process: still up"; else echo "Caravan process: EXITED"; fi
  echo "log lines about files, memory or the broker's log dirs: $(grep -ciE 'too many open files|OutOfMemoryError|offline|log dir' "$FAULT_WORK/caravan.log" || true)"
}

stop_caravan() {
  if [[ -n "${CARAVAN_PID:-}" ]] && kill -0 "$CARAVAN_PID" 2>/dev/null; then
    kill "$CARAVAN_PID"; wait "$CARAVAN_PID" 2>/dev/null || true
  fi
  [[ -n "${FAULT_WORK:-}" ]] && rm -rf "$FAULT_WORK"
}
