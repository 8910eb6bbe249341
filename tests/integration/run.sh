#!/usr/bin/env bash
# Run every integration test (fixed order, each under a timeout), one line
# per test, then "integration: N passed, N failed". Exit 1 if any failed.
#   ONLY="t_local t_s3" bash tests/integration/run.sh    run a subset
set -uo pipefail
IT_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$IT_DIR/../.." && pwd)
cd "$ROOT"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true AWS_PAGER=""
unset AWS_SESSION_TOKEN AWS_PROFILE 2>/dev/null || true

# name:timeout_seconds, in this order
TESTS="t_cli:60 t_local:120 t_s3:120 t_s3_sigv4:150 t_s3_flaky:150 t_formats:120 t_multipart:180 t_backpressure:200 t_crash:240 t_dashboard:150 t_auth:120 t_lua:180 t_processors:120 t_partitions:120 t_http:150 t_agent:150 t_control:120 t_admin:60 t_quota:60 t_faults:300 t_kinesis:120 t_kinesis_leases:120 t_kinesis_reshard:120 t_kinesis_outage:60"

[ -x "${FIREHOSED:-$ROOT/firehosed}" ] || { echo "integration: ./firehosed is not built"; echo "integration: 0 passed, 1 failed"; exit 1; }
if ! sh "$IT_DIR/peers-install.sh"; then
    echo "integration: test peers could not be installed"
    echo "integration: 0 passed, 1 failed"
    exit 1
fi

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/fhit-logs.XXXXXX")
pass=0; fail=0; failed=""
t_all=$SECONDS
for entry in $TESTS; do
    name=${entry%%:*}; limit=${entry##*:}
    if [ -n "${ONLY:-}" ] && ! printf ' %s ' "$ONLY" | grep -q " $name "; then continue; fi
    t0=$SECONDS
    timeout -k 10 "$limit" bash "$IT_DIR/$name.sh" </dev/null >"$LOGDIR/$name.log" 2>&1
    rc=$?
    dt=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        extra=$(sed -n 's/^RESULT: //p' "$LOGDIR/$name.log" | paste -sd ';' -)
        printf 'PASS %-16s %4ds%s\n' "$name" "$dt" "${extra:+  ($extra)}"
        if [ -n "${VERBOSE:-}" ]; then sed 's/^/    /' "$LOGDIR/$name.log"; fi
    else
        fail=$((fail + 1)); failed="$failed $name"
        why="exit $rc"; [ $rc -eq 124 ] && why="timed out after ${limit}s"
        printf 'FAIL %-16s %4ds (%s)\n' "$name" "$dt" "$why"
        # The test's own output ends with the tail of firehosed's log.
        tail -n 200 "$LOGDIR/$name.log" | sed 's/^/    /'
    fi
done
if [ $fail -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
    rm -rf "$LOGDIR"
    echo "integration: total $((SECONDS - t_all))s"
else
    echo "integration: total $((SECONDS - t_all))s, logs in $LOGDIR${failed:+, failed:$failed}"
fi
echo "integration: $pass passed, $fail failed"
[ $fail -eq 0 ]
