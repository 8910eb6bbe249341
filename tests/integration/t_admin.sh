#!/usr/bin/env bash
# t_admin: with Service.AdminListen the dashboard, /api/status and /metrics
# are served on the admin address only; producers' address keeps the API.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

port=$(free_port)
admin=$(free_port)
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "AdminListen": "127.0.0.1:$admin",
               "StateDirectory": "$T_TMP/state" },
  "DeliveryStreams": [ $(local_stream a "$T_TMP/out") ] }
JSON
start_firehosed "$T_TMP/cfg.json" "$port"
code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1$2"; }
for p in / /dashboard /api/status /metrics; do
    assert_eq 404 "$(code "$port" "$p")" "GET $p on Listen"
    assert_eq 200 "$(code "$admin" "$p")" "GET $p on AdminListen"
done
assert_eq 200 "$(code "$port" /health)" "GET /health on Listen"
assert_eq 200 "$(code "$admin" /health)" "GET /health on AdminListen"
fh_call PutRecord '{"DeliveryStreamName":"a","Record":{"Data":"aGk="}}'
assert_eq 200 "$HTTP_CODE" "PutRecord on Listen"
fh_call PutRecord '{"DeliveryStreamName":"a","Record":{"Data":"aGk="}}' "http://127.0.0.1:$admin"
assert_eq 404 "$HTTP_CODE" "PutRecord on AdminListen"
sed "s/\"AdminListen\": \"127.0.0.1:$admin\"/\"AdminListen\": \"127.0.0.1:$port\"/" "$T_TMP/cfg.json" >"$T_TMP/same.json"
out=$("$FIREHOSED" --check-config "$T_TMP/same.json" 2>&1) && fail "AdminListen = Listen was accepted"
assert_contains "is the Listen address" "$out" "check-config message"
stop_pid "$FH_PID" || fail "firehosed did not stop cleanly"
result "dashboard, status and metrics only on AdminListen; API only on Listen"
