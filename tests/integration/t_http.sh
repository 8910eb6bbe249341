#!/usr/bin/env bash
# t_http: HTTP endpoint and OpenSearch destinations through the core.
# HTTP: every header and the body per spec §5 (checked by http_receiver.py),
# retries after 500s reuse the request id and deliver once; a 413 goes to
# the S3 backup (http-endpoint-failed) at once; an endpoint that keeps
# failing goes to the backup after RetryOptions.DurationInSeconds.
# OpenSearch: _bulk with stable _ids, only the failed item is re-sent
# (no document written twice), a 400 item and a non-JSON record go to the
# backup (AmazonOpenSearchService-failed) in Firehose's format.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_s3rver "$T_TMP/s3" 0 test-bucket
start_py() {   # start_py NAME SCRIPT ARGS...: sets PORT_<NAME>
    local name=$1 script=$2; shift 2
    "$PY" "$IT_DIR/$script" --port-file "$T_TMP/$name.port" "$@" >"$T_TMP/$name.log" 2>&1 &
    track_pid $!
    wait_for 10 test -s "$T_TMP/$name.port" || fail "$script did not start: $(cat "$T_TMP/$name.log")"
    eval "PORT_$name=$(cat "$T_TMP/$name.port")"
}
start_py web http_receiver.py --out "$T_TMP/web.jsonl" --mode fail-500 --count 2 \
    --access-key sekret --path "/ingest?x=1"
start_py big http_receiver.py --out "$T_TMP/big.jsonl" --mode 413
start_py down http_receiver.py --out "$T_TMP/down.jsonl" --mode fail-500
start_py os bulk_server.py --dump "$T_TMP/os.dump"

port=$(free_port)
backup() {   # backup PREFIX
    printf '"S3Configuration": { "BucketARN": "arn:aws:s3:::test-bucket", "Prefix": "%s", "CompressionFormat": "GZIP" }' "$1"
}
http_stream() {   # http_stream NAME PORT PATH RETRY_S
    cat <<JSON
    { "DeliveryStreamName": "$1", "HttpEndpointDestinationConfiguration": {
        "EndpointConfiguration": { "Url": "http://127.0.0.1:$2$3", "Name": "recv", "AccessKey": "sekret" },
        "RequestConfiguration": { "ContentEncoding": "GZIP",
            "CommonAttributes": [ { "AttributeName": "env", "AttributeValue": "test" } ] },
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 },
        "RetryOptions": { "DurationInSeconds": $4 }, "S3BackupMode": "FailedDataOnly",
        $(backup "$1/") } }
JSON
}
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "Endpoints": { "S3": "$S3_ENDPOINT" } },
  "DeliveryStreams": [
$(http_stream web "$PORT_web" "/ingest?x=1" 60),
$(http_stream big "$PORT_big" "/" 60),
$(http_stream down "$PORT_down" "/" 3),
    { "DeliveryStreamName": "os", "AmazonopensearchserviceDestinationConfiguration": {
        "ClusterEndpoint": "http://127.0.0.1:$PORT_os", "IndexName": "logs", "IndexRotationPeriod": "OneDay",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 4 },
        "RetryOptions": { "DurationInSeconds": 60 }, "S3BackupMode": "FailedDocumentsOnly",
        $(backup "os/") } } ] }
JSON
start_firehosed "$T_TMP/cfg.json" "$port"

# send STREAM N TAG: N JSON records; prints the RecordIds, one per line
send() {
    "$PY" - "$2" "$3" >"$T_TMP/req.json" <<'PY'
import base64, json, sys
n, tag = int(sys.argv[1]), sys.argv[2]
print(json.dumps([{"Data": base64.b64encode(json.dumps({"tag": tag, "i": i}).encode()).decode()} for i in range(n)]))
PY
    r=$(aws_fh put-record-batch --delivery-stream-name "$1" --records "file://$T_TMP/req.json" 2>&1) ||
        fail "put-record-batch to $1 failed: $r"
    printf '%s' "$r" | "$PY" -c 'import json,sys; [print(e["RecordId"]) for e in json.load(sys.stdin)["RequestResponses"]]'
}
send web 50 web >/dev/null
send big 5 big >/dev/null
send down 4 down >/dev/null

ctl() { curl -s -m 5 "http://127.0.0.1:$1/control"; }
wait_for 30 sh -c "curl -s http://127.0.0.1:$PORT_web/control | grep -q '\"accepted_records\": 50'" ||
    fail "the endpoint did not get 50 records: $(ctl "$PORT_web")"
"$PY" - "$T_TMP/web.jsonl" <<'PY' || fail "web requests: see above"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
probs = [p for r in reqs for p in r["problems"]]
assert not probs, probs
ids = {r["requestId"] for r in reqs}
assert len(reqs) == 3 and len(ids) == 1, f"{len(reqs)} requests, ids {ids}: retries must reuse the request id"
assert [r["status"] for r in reqs] == [500, 500, 200], [r["status"] for r in reqs]
h = reqs[0]["headers"]
assert h.get("Content-Encoding") == "gzip" and h.get("X-Amz-Firehose-Common-Attributes") == '{"commonAttributes":{"env":"test"}}', h
assert reqs[2]["records"] == reqs[0]["records"] and len(reqs[2]["records"]) == 50
PY
log "HTTP: 2 x 500 then 200 with one request id, headers and body per spec"

# docs PREFIX: the error documents under PREFIX in the backup bucket
docs() {
    "$PY" - "$S3_DIR/test-bucket" "$1" <<'PY'
import glob, gzip, json, os, sys
root, prefix = sys.argv[1], sys.argv[2]
out = []
for p in sorted(glob.glob(os.path.join(root, prefix + "**/*._S3rver_object"), recursive=True)):
    out += [json.loads(l) for l in gzip.decompress(open(p, "rb").read()).splitlines() if l]
print(json.dumps(out))
PY
}
wait_for 30 sh -c "ls -R $S3_DIR/test-bucket/big/http-endpoint-failed 2>/dev/null | grep -q _S3rver_object" ||
    fail "413: nothing in big/http-endpoint-failed/"
d=$(docs big/http-endpoint-failed/)
printf '%s' "$d" | "$PY" -c '
import base64, json, sys
d = json.load(sys.stdin)
assert len(d) == 5, len(d)
for x in d:
    assert list(x)[:6] == ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData"], list(x)
    assert x["attemptsMade"] == 1 and x["errorCode"].startswith("HttpEndpoint."), x
    assert json.loads(base64.b64decode(x["rawData"]))["tag"] == "big"
    assert x["dataId"].endswith(".0") and x["subsequenceNumber"] == 0
' || fail "413 backup documents are wrong: $d"
wait_for 40 sh -c "ls -R $S3_DIR/test-bucket/down/http-endpoint-failed 2>/dev/null | grep -q _S3rver_object" ||
    fail "retry duration: nothing in down/http-endpoint-failed/"
d=$(docs down/http-endpoint-failed/)
printf '%s' "$d" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 4 and all(x["attemptsMade"] >= 2 for x in d), d
assert all("induced failure" in x["errorMessage"] or x["errorCode"] == "HttpEndpoint.DestinationException" for x in d), d
' || fail "retry-duration backup documents are wrong: $d"
log "HTTP: 413 backed up at once; a failing endpoint backed up after the retry duration"

# OpenSearch: 10 documents and one that is not JSON; fail one item with
# 429 once and another with 400 for good.
ids=$(send os 10 os)
id2=$(sed -n 3p <<<"$ids"); id3=$(sed -n 4p <<<"$ids")
curl -s -m 5 -X POST "http://127.0.0.1:$PORT_os/_control" \
    -d "{\"fail\": {\"$id2\": [429, 1], \"$id3\": [400, -1]}}" >/dev/null || fail "bulk_server control"
aws_fh put-record --delivery-stream-name os --record '{"Data":"bm90IGpzb24="}' >/dev/null || fail "put-record os"
wait_for 40 sh -c "ls -R $S3_DIR/test-bucket/os/AmazonOpenSearchService-failed 2>/dev/null | grep -q _S3rver_object" ||
    fail "OpenSearch: nothing in os/AmazonOpenSearchService-failed/"
wait_for 20 sh -c "curl -s http://127.0.0.1:$PORT_os/_dump | $PY -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)[\"docs\"]) == 9 else 1)'"
dump=$(curl -s "http://127.0.0.1:$PORT_os/_dump")
printf '%s' "$dump" | "$PY" -c '
import json, sys, time
d = json.load(sys.stdin)["docs"]
day = time.strftime("%Y-%m-%d", time.gmtime())
assert len(d) == 9, len(d)
assert all(x["version"] == 1 for x in d), "a document was written twice"
assert all(x["_index"] == "logs-" + day for x in d), {x["_index"] for x in d}
' || fail "OpenSearch documents are wrong: $dump"
d=$(docs os/AmazonOpenSearchService-failed/)
printf '%s' "$d" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
codes = sorted(x["errorCode"] for x in d)
assert len(d) == 2 and codes[0] == "OS.InvalidDocument" and codes[1] == "mapper_parsing_exception", codes
assert all("esDocumentId" in x for x in d)
' || fail "OpenSearch backup documents are wrong: $d"
kill -0 "$FH_PID" || fail "firehosed died"
result "HTTP retries keep the request id; 413 + retry-duration backups; OpenSearch: only failed items re-sent, 2 to backup"
