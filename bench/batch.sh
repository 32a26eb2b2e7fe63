#!/usr/bin/env bash
# The batch tier's figures (docs/batch.md): the same workload online and with deadlines (cost from the usage events),
# and how many tasks wait in open batches in a Caravan child JVM at -Xmx256m (heap per waiting task, CPU per task).
#   bench/batch.sh                                                    # both legs
#   bench/batch.sh -Dbatch.legs=cost -Dbatch.tasks=1000
#   bench/batch.sh -Dbatch.legs=capacity -Dbatch.waiting=100000
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
mkdir -p bench/results
exec java -Xmx2g -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=100000 "$@" -cp "$CP" io.caravan.bench.BatchBench \
  2>&1 | grep --line-buffered -E "^cost|^capacity" | tee "bench/results/batch-$(date +%Y%m%d-%H%M%S).txt"
