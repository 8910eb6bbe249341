#!/usr/bin/env bash
# t_cli: --help/--version, --check-config (good and broken configs, every
# error reported), refusing to start on a broken config, GET /health,
# SIGTERM and SIGINT -> exit 0 within a few seconds.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

out=$(timeout 10 "$FIREHOSED" --help 2>&1); rc=$?
assert_eq 0 "$rc" "--help exit status"
[ -n "$out" ] || fail "--help printed nothing"
assert_contains "--config" "$out" "--help text"

out=$(timeout 10 "$FIREHOSED" --version 2>&1); rc=$?
assert_eq 0 "$rc" "--version exit status"
[ -n "$out" ] || fail "--version printed nothing"
log "version: $(printf '%s' "$out" | head -n1)"

[ -f "$ROOT/config/local.json" ] || fail "config/local.json missing"
out=$(cd "$ROOT" && timeout 10 "$FIREHOSED" --check-config config/local.json 2>&1); rc=$?
[ "$rc" = 0 ] || fail "--check-config config/local.json: exit $rc, output: $out"

# A config with three independent problems: all three must be reported.
port=$(free_port)
cat >"$T_TMP/broken.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state-broken" },
  "DeliveryStreams": [
    { "DeliveryStreamName": "a1", "DeliveryStreamType": "DirectPut", "BogusKeyXyz": 1,
      "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/out-a1",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "GZIP" } },
    { "DeliveryStreamName": "a2", "DeliveryStreamType": "DirectPut",
      "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/out-a2",
        "BufferingHints": { "SizeInMBs": 999, "IntervalInSeconds": 1 }, "CompressionFormat": "GZIP" } },
    { "DeliveryStreamName": "a3", "DeliveryStreamType": "DirectPut",
      "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/out-a3",
        "Prefix": "logs/!{nosuchnamespace:x}/", "ErrorOutputPrefix": "err/!{firehose:error-output-type}/",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "GZIP" } } ] }
JSON
out=$(timeout 10 "$FIREHOSED" --check-config "$T_TMP/broken.json" 2>&1); rc=$?
assert_eq 1 "$rc" "--check-config on a broken config: exit status (output: $out)"
assert_contains "BogusKeyXyz" "$out" "unknown key not reported"
assert_contains "SizeInMBs" "$out" "bad SizeInMBs not reported"
assert_contains "Prefix" "$out" "bad Prefix not reported"
nl=$(printf '%s\n' "$out" | grep -c -E 'BogusKeyXyz|SizeInMBs|Prefix')
[ "$nl" -ge 3 ] || fail "expected each of the 3 errors on its own line, got: $out"

# Invalid JSON and a missing file.
printf '{ "Service": { "Listen": ' >"$T_TMP/trunc.json"
out=$(timeout 10 "$FIREHOSED" --check-config "$T_TMP/trunc.json" 2>&1); rc=$?
assert_eq 1 "$rc" "--check-config on truncated JSON (output: $out)"
out=$(timeout 10 "$FIREHOSED" --check-config "$T_TMP/does-not-exist.json" 2>&1); rc=$?
assert_eq 1 "$rc" "--check-config on a missing file (output: $out)"

# A broken config refuses to start (and does not listen).
timeout 10 "$FIREHOSED" --config "$T_TMP/broken.json" >"$T_TMP/broken-start.log" 2>&1 </dev/null; rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "--config with a broken config: exit $rc (expected a quick non-zero exit)"
assert_contains "BogusKeyXyz" "$(cat "$T_TMP/broken-start.log")" "start with a broken config: error not logged"

# A good config: /health, then SIGTERM -> exit 0 quickly.
port=$(free_port)
write_config "$T_TMP/good.json" "$port" "$T_TMP/state" "http://127.0.0.1:1" 1073741824 \
    "[ $(local_stream local1 "$T_TMP/out") ]"
out=$(timeout 10 "$FIREHOSED" --check-config "$T_TMP/good.json" 2>&1); rc=$?
assert_eq 0 "$rc" "--check-config on the test config (output: $out)"

for sig in TERM INT; do
    start_firehosed "$T_TMP/good.json" "$port"
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$FH_ENDPOINT/health")
    assert_eq 200 "$code" "GET /health"
    t0=$(date +%s%N)
    kill -$sig "$FH_PID"
    deadline=$((SECONDS + 5))
    while [ $SECONDS -lt $deadline ] && kill -0 "$FH_PID" 2>/dev/null; do sleep 0.05; done
    kill -0 "$FH_PID" 2>/dev/null && fail "SIG$sig: still running after 5 s"
    wait "$FH_PID"; rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    assert_eq 0 "$rc" "exit status after SIG$sig"
    log "SIG$sig -> exit 0 in ${ms} ms"
    port_open "$port" && fail "port $port still open after exit"
done
# libmicrohttpd complaining at shutdown means the listener was not quiesced.
if grep -q 'MHD_USE_ITC\|MHD_quiesce' "${T_FH_LOGS[@]}"; then
    log "note: firehosed's shutdown logs a libmicrohttpd error: $(grep -h -m1 'MHD_' "${T_FH_LOGS[@]}")"
fi
log "PASS"
