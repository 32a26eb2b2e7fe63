#!/usr/bin/env bash
# Caravan's benchmark: builds, then runs io.caravan.bench.Bench (src/test/java, not in the product jar).
# Prints the figures and writes them to bench/results/bench-*.txt (git-ignored).
#   bench/run.sh                                  # every leg on the default JDK
#   BENCH_JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java bench/run.sh   # Caravan on another JVM
#   bench/run.sh -Dbench.legs=kafka -Dbench.kafka.latencies=200 -Dbench.kafka.in-flight=1024
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
JAVA_OPTS=()
if [[ -n "${BENCH_JAVA:-}" ]]; then JAVA_OPTS+=("-Dbench.java=$BENCH_JAVA"); fi
# the JDK HTTP server (the mock) without Nagle: else every answer waits for a delayed ACK (~40 ms)
exec java -Xmx1g -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=4096 "${JAVA_OPTS[@]}" "$@" -cp "$CP" io.caravan.bench.Bench
