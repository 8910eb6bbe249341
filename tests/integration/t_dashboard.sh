#!/usr/bin/env bash
# t_dashboard: the operations view end to end. A local stream with records
# flowing and an S3 stream whose endpoint is a closed port (every delivery
# fails). Checks GET / and /dashboard (self-contained page, CSP), GET
# /metrics parsed by a real Prometheus text parser (Debian's
# python3-prometheus-client) against /api/status, JSON log lines
# ("LogFormat": "json"), and the page in Debian's chromium driven by
# playwright-core (js/dash_browser.js): charts with data points, numbers
# equal to /api/status, the failure in the error list, a screenshot.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SYSPY=/usr/bin/python3    # Debian's, where python3-prometheus-client lives
if ! [ -x /usr/bin/chromium ] || ! "$SYSPY" -c 'import prometheus_client' 2>/dev/null; then
    sh "$ROOT/tests/deps.sh" chromium python3-prometheus-client >&2 || true
fi
"$SYSPY" -c 'import prometheus_client.parser' 2>/dev/null ||
    fail "python3-prometheus-client is not installed (apt-get install python3-prometheus-client)"

port=$(free_port)
dead=$(free_port)    # nothing listens here: S3 delivery fails to connect
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "Durability": "os", "Region": "us-east-1", "LogFormat": "json",
               "Endpoints": { "S3": "http://127.0.0.1:$dead" } },
  "DeliveryStreams": [ $(local_stream flow "$T_TMP/out" 1 1),
                       $(s3_stream broken test-bucket "" "" 1 1) ] }
JSON
start_firehosed "$T_TMP/cfg.json" "$port"
ep=$FH_ENDPOINT

# ---- the page: one self-contained document, same at / and /dashboard
code=$(curl -s -m 5 -D "$T_TMP/page.h" -o "$T_TMP/page.html" -w '%{http_code}' "$ep/")
assert_eq 200 "$code" "GET / status"
hdrs=$(tr -d '\r' <"$T_TMP/page.h")
assert_header Content-Type 'text/html' "$hdrs" "GET /"
assert_header Content-Security-Policy "default-src 'none'" "$hdrs" "GET /"
cmp -s "$T_TMP/page.html" <(curl -s -m 5 "$ep/dashboard") || fail "GET /dashboard differs from GET /"
if grep -Eio '(src|href)="(https?:)?//[^"]*' "$T_TMP/page.html"; then fail "the page references external assets"; fi
page_bytes=$(wc -c <"$T_TMP/page.html")
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$ep/nosuch")
assert_eq 404 "$code" "GET /nosuch"

# ---- records flow into 'flow' (background, bounded), a few into 'broken'
node "$FHJS" load --endpoint "$ep" --stream flow --tag dash --acked "$T_TMP/acked" \
    --concurrency 1 --batch 20 --max-seconds 100 >"$T_TMP/load.out" 2>&1 &
load_pid=$!
track_pid "$load_pid"
fhjs send --endpoint "$ep" --stream broken --tag bad --count 5 --batch 5 >/dev/null ||
    fail "sending to 'broken' failed"
fh_call PutRecord '{"DeliveryStreamName":"flow","Record":{"Data":"b25lCg=="}}'
assert_eq 200 "$HTTP_CODE" "PutRecord ($BODY)"

# ---- the browser
shot=$T_TMP/dashboard.png
if [ -x /usr/bin/chromium ]; then
    node "$IT_DIR/js/dash_browser.js" --url "$ep" --good flow --bad broken --load-pid "$load_pid" \
        --out "$shot" --profile "$T_TMP/chromium-profile" >"$T_TMP/browser.out" 2>&1 ||
        { cat "$T_TMP/browser.out" >&2; fail "browser check failed"; }
    summary=$(tail -n 1 "$T_TMP/browser.out")
    log "browser: $summary"
    [ -s "$shot" ] || fail "no screenshot at $shot"
    result "page $page_bytes B, load $(printf '%s' "$summary" | jget '.load_ms') ms, first data $(printf '%s' "$summary" | jget '.first_data_ms') ms"
else
    log "SKIP browser check: chromium could not be installed (apt-get install chromium)"
    result "browser check SKIPPED: no chromium"
    sleep 12
    kill -TERM "$load_pid" 2>/dev/null
fi
wait "$load_pid" 2>/dev/null

# ---- /metrics against /api/status, once the counters are still
status_json() { curl -s -m 5 "$ep/api/status"; }
# Streams are listed by name: [0] is 'broken', [1] 'flow'.
settled() {
    local a b
    a=$(status_json | jget '.DeliveryStreams[1].Counters.DeliveredRecords')
    b=$(status_json | jget '.DeliveryStreams[1].Counters.IncomingRecords')
    [ -n "$a" ] && [ "$a" = "$b" ]
}
wait_for 30 settled || fail "'flow' did not deliver everything it accepted"
curl -s -m 5 -D "$T_TMP/m.h" -o "$T_TMP/metrics.txt" "$ep/metrics"
assert_header Content-Type 'text/plain; version=0\.0\.4' "$(tr -d '\r' <"$T_TMP/m.h")" "GET /metrics"
status_json >"$T_TMP/status.json"
"$SYSPY" - "$T_TMP/metrics.txt" "$T_TMP/status.json" <<'PYEOF' || fail "/metrics check failed"
import json, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
status = json.load(open(sys.argv[2]))
fams = {f.name: f for f in text_string_to_metric_families(text)}
def val(name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise SystemExit(f"no sample {name} {labels}")
st = {s["DeliveryStreamName"]: s for s in status["DeliveryStreams"]}
flow, broken = st["flow"]["Counters"], st["broken"]["Counters"]
checks = [
    ("firehose_incoming_records_total", {"stream": "flow"}, flow["IncomingRecords"]),
    ("firehose_incoming_bytes_total", {"stream": "flow"}, flow["IncomingBytes"]),
    ("firehose_incoming_put_requests_total", {"stream": "flow"}, flow["IncomingPutRequests"]),
    ("firehose_delivery_to_local_records_total", {"stream": "flow"}, flow["DeliveredRecords"]),
    ("firehose_delivery_to_local_bytes_total", {"stream": "flow"}, flow["DeliveredBytes"]),
    ("firehose_delivery_to_local_success_total", {"stream": "flow"}, flow["DeliveredObjects"]),
    ("firehose_incoming_records_total", {"stream": "broken"}, 5),
    ("firehose_delivery_to_s3_records_total", {"stream": "broken"}, 0),
    ("firehose_delivery_to_s3_success_total", {"stream": "broken"}, 0),
    ("firehose_throttled_records_total", {"stream": "flow"}, 0),
]
for name, labels, want in checks:
    got = val(name, **labels)
    if got != want:
        raise SystemExit(f"{name}{labels}: /metrics {got}, /api/status {want}")
assert flow["IncomingRecords"] >= 100, flow
assert val("firehose_delivery_to_s3_attempts_total", stream="broken") >= 1
assert val("firehose_delivery_failures_total", stream="broken") >= 1
assert val("firehose_delivery_data_freshness_seconds", stream="broken") > 0
assert val("firehose_delivery_data_freshness_seconds", stream="flow") == 0
assert val("firehose_spool_bytes", stream="broken") > 0
assert val("firehose_errors_total") >= 1
for n in ("process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total",
          "process_start_time_seconds"):
    assert val(n) > 0, n
# The histogram: cumulative buckets, +Inf == _count, one count per call.
h = fams["firehose_put_request_duration_seconds"]
assert h.type == "histogram", h.type
total = 0
for op in ("PutRecord", "PutRecordBatch"):
    b = sorted(((float(s.labels["le"]), s.value) for s in h.samples
                if s.name.endswith("_bucket") and s.labels["stream"] == "flow"
                and s.labels["operation"] == op))
    counts = [v for _, v in b]
    assert counts == sorted(counts), counts
    assert b[-1][0] == float("inf")
    assert b[-1][1] == val("firehose_put_request_duration_seconds_count", stream="flow", operation=op)
    assert val("firehose_put_request_duration_seconds_sum", stream="flow", operation=op) > 0
    total += b[-1][1]
assert total == flow["IncomingPutRequests"], (total, flow["IncomingPutRequests"])
assert fams["firehose_execute_processing_duration_seconds"].type == "histogram"
print(f"metrics: {len(fams)} families, {sum(len(f.samples) for f in fams.values())} samples")
PYEOF

# ---- the error list in /api/status, and JSON log lines
errs=$(jget '.Errors' <"$T_TMP/status.json")
assert_contains '"Stream": "broken"' "$errs" "/api/status Errors"
assert_contains '"Stage": "delivery"' "$errs" "/api/status Errors"
assert_eq failing "$(jget '.DeliveryStreams[0].State' <"$T_TMP/status.json")" "State of 'broken'"
"$SYSPY" - "$FH_LOG" <<'PYEOF' || fail "log lines are not all JSON with time, level, component, message"
import json, sys
n = warn = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert set(d) == {"time", "level", "component", "message"}, d
    n += 1
    warn += d["level"] == "WARN" and d["component"] == "dest:s3:broken"
assert n >= 2 and warn >= 1, (n, warn)
PYEOF
stop_pid "$FH_PID" 10 || fail "firehosed did not stop cleanly"
log "screenshot: $shot"
