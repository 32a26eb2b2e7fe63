#!/usr/bin/env bash
# What the tenant checks add per request on the sequential HTTP path (key lookup, identity, allow:, budget
# reservation, rpm, settlement), measured in-process: io.caravan.bench.TenantChecksBench. Figures: docs/tenants.md.
#   bench/tenants.sh                       # 200,000 rounds
#   bench/tenants.sh -Dbench.rounds=50000
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B -o test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
CP="target/test-classes:target/classes:$(cat target/bench.classpath)"
exec java -Xmx512m -XX:+UseG1GC "$@" -cp "$CP" io.caravan.bench.TenantChecksBench
