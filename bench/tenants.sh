#!/usr/bin/env bash
# Tenants, measured in-process. Figures: docs/tenants.md.
#   bench/tenants.sh                       # what the tenant checks add per request on the sequential HTTP path
#   bench/tenants.sh -Dbench.rounds=50000  #   (key lookup, identity, allow:, budget reservation, rpm, settlement)
#   bench/tenants.sh fair                  # B's wait behind A's flood of 1,000 tasks, with and without fair share
#   bench/tenants.sh fair -Dbench.rounds=3 #   (an in-JVM broker, WireMock on 127.0.0.1; about a minute a round)
set -euo pipefail
cd "$(dirname "$0")/.."
main=io.caravan.bench.TenantChecksBench
if [[ "${1:-}" == fair ]]; then
  main=io.caravan.bench.FairShareBench
  shift
fi
mvn -q -B -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
exec java -Xmx512m -XX:+UseG1GC "$@" -cp "$CP" "$main"
