#!/usr/bin/env bash
# The fleet's benchmark: three Caravans in one consumer group (one JVM, in-JVM broker) against a 127.0.0.1 provider
# enforcing one key's limit (default 600 requests per 6 s window: a minute's limit on a window ten times shorter).
#   bench/fleet.sh                                            # every leg
#   bench/fleet.sh -Dfleet.legs=shared,cooldown -Dfleet.tasks=3000 -Dfleet.limit=600 -Dfleet.window=6s
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
mkdir -p bench/results
# the JDK HTTP server (the mock): without Nagle, and no silent close of connections beyond 200 idle ones (the
# window-start burst keeps hundreds; their next calls would fail as NoHttpResponse/reset and open the breaker)
exec java -Xmx2g -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=100000 "$@" -cp "$CP" io.caravan.bench.FleetBench \
  2>&1 | grep --line-buffered -E "^fleet bench|^per-instance|^shared|^key cooldown" | tee "bench/results/fleet-$(date +%Y%m%d-%H%M%S).txt"
