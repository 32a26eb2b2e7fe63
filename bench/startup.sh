#!/usr/bin/env bash
# Lean and warm with bin/caravan's defaults: start to ready (embedded broker), idle RSS and RSS after a 5,000-task
# Kafka burst (broker in another process), requests/s per 10 s after ready against a mock provider on 127.0.0.1; on
# JDK 17 and Temurin 25, the launcher's JVM options printed beside the figures; each start's timeline from its log.
# Figures go to bench/results/startup-*.txt (git-ignored).
#   bench/startup.sh
#   bench/startup.sh -Dstartup.legs=warm -Dstartup.jdks=25=/usr/lib/jvm/temurin-25-jdk-amd64 -Dstartup.seconds=150
#   CARAVAN_JAVA_OPTS=-XX:TieredStopAtLevel=1 bench/startup.sh -Dstartup.legs=ready   # try other options
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f target/caravan.jar || -n "$(find src/main routes -newer target/caravan.jar -type f | head -1)" ]]; then
  mvn -q -B -o package -DskipTests >/dev/null
fi
mvn -q -B -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
mkdir -p bench/results
# the mock provider is the JDK HTTP server: without Nagle, and no silent close of idle keep-alive connections
java -Xmx512m -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=100000 "$@" -cp "$CP" \
  io.caravan.bench.StartupBench 2>&1 \
  | grep --line-buffered -E "^==|^   |^Exception|^Caused by" | tee "bench/results/startup-$(date +%Y%m%d-%H%M%S).txt"
