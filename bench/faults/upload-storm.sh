#!/usr/bin/env bash
# Fault: UPLOADS (150) concurrent authenticated chunked uploads of UPLOAD_BYTES (16 MiB) each, no Content-Length,
# to /v1/tasks of a Caravan at -Xmx1g; then a legitimate caller at once. Caravan's heap is sampled by jstat.
#   bench/faults/upload-storm.sh
source "$(dirname "$0")/lib.sh"
UPLOADS=${UPLOADS:-150}
UPLOAD_BYTES=${UPLOAD_BYTES:-16777216}
KEY=storm-test-key
build
start_caravan -Dcaravan.http.api-keys=$KEY
jstat -gc "$CARAVAN_PID" 500 >"$FAULT_WORK/jstat.txt" 2>/dev/null &
JSTAT=$!
java -Xmx512m -cp "$FAULT_CP" -Dfault.port="$FAULT_PORT" -Dfault.pid="$CARAVAN_PID" -Dfault.key=$KEY \
    -Dfault.uploads="$UPLOADS" -Dfault.upload-bytes="$UPLOAD_BYTES" io.caravan.bench.EdgeFaults uploads
kill "$JSTAT" 2>/dev/null || true
# heap used = survivor + eden + old (KB), the largest sample
# (eden holds the dropped chunks until the next young collection); old = what outlived collections
awk 'NR > 1 && $1 ~ /^[0-9.]+$/ { used = $3 + $4 + $6 + $8; if (used > max) max = used; if ($8 > old) old = $8 }
     END { printf "Caravan heap used, largest sample: %.0f MB, old generation at most %.0f MB (-Xmx1g)\n", max / 1024, old / 1024 }' \
    "$FAULT_WORK/jstat.txt"
curl -s "http://127.0.0.1:$FAULT_PORT/metrics" | grep -E '^caravan_http_(bodies|body)' || true
verdict
