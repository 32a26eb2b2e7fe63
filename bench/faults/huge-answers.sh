#!/usr/bin/env bash
# Issue 13, points 3 and 8, the heavy way: hostile providers on 127.0.0.1 (200 MiB answers with and without
# Content-Length, a gzip bomb, SSE lines and events without end, a drip, a stream that never sends an event)
# against a Caravan in a small heap (io.caravan.bench.HugeAnswers, src/test/java). Bounded: a few requests per
# scenario, each answer at most faults.huge bytes or ten minutes. Prints one line per scenario.
#   bench/faults/huge-answers.sh
#   HEAP=128m bench/faults/huge-answers.sh -Dfaults.concurrency=8 -Dfaults.huge=104857600
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
exec java -Xmx"${HEAP:-256m}" -XX:+ExitOnOutOfMemoryError "$@" -cp "$CP" io.caravan.bench.HugeAnswers
