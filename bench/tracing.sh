#!/usr/bin/env bash
# What tracing costs: runs io.caravan.bench.TracingBench (src/test/java) against Caravan with tracing off, on at 100 %
# and on at 1 % sampling, and a build of BASELINE (a git ref before tracing; default: none) for "off costs nothing".
# Figures are printed and written to bench/results/tracing-*.txt (git-ignored); docs/tracing.md has the last ones.
# Each Caravan is warmed up, then every leg runs many short rounds (each Caravan once a round, order rotated, a first
# round dropped) and compares each with "off" of the same round, and with a second "off" Caravan (the control: what
# two JVMs of one build differ by). Then JFR counts tracing's share of each Caravan's CPU samples under wrk, in place,
# and JMH (TracingHooksBench) times one task's tracing steps in process; the last line says whether 1 % is under 3 %.
#   bench/tracing.sh                        # about 22 minutes on 2 quiet cores: 20000 warm-up requests per Caravan,
#                                           # 24 rounds x 1500 sequential requests, 6 rounds x 5 s of wrk,
#                                           # JFR under wrk 2 rounds x 30 s, JMH 3 forks
#   BASELINE=437cd58 bench/tracing.sh       # plus a build from before tracing (a fifth Caravan)
#   bench/tracing.sh -Dbench.latency.rounds=36 -Dbench.http.rounds=8      # tighter, longer
#   bench/tracing.sh hooks                  # the JMH part alone (about 2 minutes)
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
MAIN=io.caravan.bench.TracingBench
if [[ "${1:-}" == hooks ]]; then shift; MAIN=io.caravan.bench.TracingHooksBench; fi
exec java -Xmx1g -Dsun.net.httpserver.nodelay=true -Dsun.net.httpserver.maxIdleConnections=4096 "${OPTS[@]}" "$@" \
    -cp "$CP" "$MAIN"
