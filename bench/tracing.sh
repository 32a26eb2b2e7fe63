#!/usr/bin/env bash
# What tracing costs: runs io.caravan.bench.TracingBench (src/test/java) against Caravan with tracing off, on at 100 %
# and on at 1 % sampling, and a build of BASELINE (a git ref before tracing; default: none) for "off costs nothing".
# Figures are printed and written to bench/results/tracing-*.txt (git-ignored); docs/tracing.md has the last ones.
# Every round measures each Caravan once (order rotated) and compares it with "off" of the same round: each figure
# comes with a 95 % interval and its lowest and highest round, so a quiet run says whether 1 % stays under 3 %.
#   bench/tracing.sh                        # about 5 minutes on 2 quiet cores: 8 rounds x 3000 requests, 4 x 8 s wrk
#   BASELINE=437cd58 bench/tracing.sh       # plus a build from before tracing (a fourth Caravan, about 7 minutes)
#   bench/tracing.sh -Dbench.latency.rounds=12 -Dbench.latency.requests=3000 -Dbench.http.rounds=6
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
OPTS=()
if [[ -n "${BASELINE:-}" ]]; then
    base="target/bench-baseline"
    rm -rf "$base" && mkdir -p "$base"
    git archive "$BASELINE" | tar -x -C "$base"
    (cd "$base" && mvn -q -B -o compile >/dev/null)
    OPTS+=("-Dbench.baseline.classes=$PWD/$base/target/classes" "-Dbench.baseline.ref=$BASELINE")
fi
if [[ -n "${BENCH_JAVA:-}" ]]; then OPTS+=("-Dbench.java=$BENCH_JAVA"); fi
exec java -Xmx1g -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=4096 "${OPTS[@]}" "$@" \
    -cp "$CP" io.caravan.bench.TracingBench
