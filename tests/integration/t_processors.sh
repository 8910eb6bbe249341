#!/usr/bin/env bash
# t_processors: Firehose's built-in processors end to end, records sent with
# the aws CLI. Local directory: RecordDeAggregation (JSON) + MetadataExtraction
# (jq, one path key and a strftime key) + AppendDelimiterToRecord under
# dynamic partitioning; every failure in its error folder with Firehose's
# error document (de-aggregation, jq run-time error, missing key).
# MaxActivePartitions: the partitions past it go to activePartitionExceeded.
# s3rver: gzip'd CloudWatch Logs envelopes through Decompression +
# CloudWatchLogProcessing (message extraction), CONTROL_MESSAGE dropped, a
# record that is not gzip in decompression-failed as it came. All checked
# byte for byte.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

xdir=$T_TMP/transforms
mkdir -p "$xdir"
cat >"$xdir/up.lua" <<'LUA'
-- Runs before MetadataExtraction: the query must see "ACME".
function transform(record)
  local out = record.data:gsub('"c":"acme"', '"c":"ACME"')
  return "Ok", out, { src = "lua" }
end
LUA
start_s3rver "$T_TMP/s3" 0 test-bucket
"$PY" "$IT_DIR/http_receiver.py" --port-file "$T_TMP/web.port" --out "$T_TMP/web.jsonl" \
    >"$T_TMP/web.log" 2>&1 &
track_pid $!
wait_for 10 test -s "$T_TMP/web.port" || fail "http_receiver.py did not start: $(cat "$T_TMP/web.log")"
port=$(free_port)
out=$T_TMP/out
param() { printf '{ "ParameterName": "%s", "ParameterValue": "%s" }' "$1" "$2"; }
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "TransformsDirectory": "$xdir", "Endpoints": { "S3": "$S3_ENDPOINT" } },
  "DeliveryStreams": [
    { "DeliveryStreamName": "mx", "LocalDirectoryDestinationConfiguration": { "Path": "$out",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED",
        "DynamicPartitioningConfiguration": { "Enabled": true },
        "Prefix": "customer=!{partitionKeyFromQuery:customer_id}/year=!{partitionKeyFromQuery:year}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "AppendDelimiterToRecord", "Parameters": [] },
          { "Type": "MetadataExtraction", "Parameters": [
              $(param MetadataExtractionQuery '{customer_id: .customer_id, year: (.ts | strftime(\"%Y\"))}'),
              $(param JsonParsingEngine JQ-1.6) ] },
          { "Type": "RecordDeAggregation", "Parameters": [ $(param SubRecordType JSON) ] } ] } } },
    { "DeliveryStreamName": "ap", "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/ap",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED",
        "DynamicPartitioningConfiguration": { "Enabled": true, "MaxActivePartitions": 2 },
        "Prefix": "k=!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "MetadataExtraction", "Parameters": [
              $(param MetadataExtractionQuery '{k: .k}'), $(param JsonParsingEngine JQ-1.6) ] },
          { "Type": "AppendDelimiterToRecord", "Parameters": [] } ] } } },
    { "DeliveryStreamName": "lj", "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/lj",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED",
        "DynamicPartitioningConfiguration": { "Enabled": true },
        "Prefix": "src=!{partitionKeyFromLambda:src}/c=!{partitionKeyFromQuery:c}/!{timestamp:yyyy}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "AppendDelimiterToRecord", "Parameters": [] },
          { "Type": "MetadataExtraction", "Parameters": [
              $(param MetadataExtractionQuery '{c: .c}'), $(param JsonParsingEngine JQ-1.6) ] },
          { "Type": "Lua", "Parameters": [ $(param ScriptName up.lua) ] } ] } } },
    { "DeliveryStreamName": "hcw", "HttpEndpointDestinationConfiguration": {
        "EndpointConfiguration": { "Url": "http://127.0.0.1:$(cat "$T_TMP/web.port")/", "Name": "recv" },
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "S3BackupMode": "FailedDataOnly",
        "S3Configuration": { "BucketARN": "arn:aws:s3:::test-bucket", "Prefix": "hcw/", "CompressionFormat": "UNCOMPRESSED" },
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "Decompression", "Parameters": [ $(param CompressionFormat GZIP) ] },
          { "Type": "CloudWatchLogProcessing", "Parameters": [ $(param DataMessageExtraction true) ] } ] } } },
    { "DeliveryStreamName": "cwl", "ExtendedS3DestinationConfiguration": { "BucketARN": "arn:aws:s3:::test-bucket",
        "Prefix": "logs/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "CloudWatchLogProcessing", "Parameters": [ $(param DataMessageExtraction true) ] },
          { "Type": "Decompression", "Parameters": [ $(param CompressionFormat GZIP) ] },
          { "Type": "AppendDelimiterToRecord", "Parameters": [] } ] } } } ] }
JSON
"$FIREHOSED" --check-config "$T_TMP/cfg.json" >"$T_TMP/check.log" 2>&1 ||
    fail "the config does not validate: $(cat "$T_TMP/check.log")"
# A query that does not compile is a config error naming the path.
sed 's/(.ts | strftime/(.ts | nosuchfn(/' "$T_TMP/cfg.json" >"$T_TMP/bad.json"
"$FIREHOSED" --check-config "$T_TMP/bad.json" >"$T_TMP/bad.log" 2>&1 &&
    fail "a query that does not compile was accepted"
grep -q 'ProcessingConfiguration.Processors\[1\]: MetadataExtractionQuery does not compile: jq: error' "$T_TMP/bad.log" ||
    fail "the jq compile error does not name the path: $(cat "$T_TMP/bad.log")"
start_firehosed "$T_TMP/cfg.json" "$port"

# put_files STREAM FILE...: one PutRecordBatch, each FILE's bytes one record
put_files() {
    local s=$1; shift
    "$PY" - "$@" >"$T_TMP/req.json" <<'PY'
import base64, json, sys
print(json.dumps([{"Data": base64.b64encode(open(p, "rb").read()).decode()} for p in sys.argv[1:]]))
PY
    r=$(aws_fh put-record-batch --delivery-stream-name "$s" --records "file://$T_TMP/req.json" 2>&1) ||
        fail "put-record-batch to $s failed: $r"
    assert_eq 0 "$(printf '%s' "$r" | jget '.FailedPutCount')" "FailedPutCount ($r)"
}

# ---- mx: de-aggregation + jq keys ----
mkdir -p "$T_TMP/mx"
"$PY" - "$T_TMP/mx" <<'PY'
import json, os, sys
d = sys.argv[1]
recs = []
for i in range(12):
    subs = []
    for j in range(i % 4 + 1):
        c = ["acme", "globex", "initech"][(i + j) % 3]
        ts = [1609459200, 1700000000][(i * j) % 2]   # 2021, 2023
        subs.append(json.dumps({"customer_id": c, "ts": ts, "i": i, "j": j}, separators=(",", ":")))
    sep = ["", "\n", " \n "][i % 3]
    recs.append(sep.join(subs) + ("\n" if i % 2 else ""))
recs.append('{"customer_id":"acme","ts":1609459200,"i":"bad"} trailing')   # not JSON objects only
recs.append('{"customer_id":"acme","ts":"soon","i":"jqerr"}{"customer_id":"acme","ts":1609459200,"i":"ok-after-jqerr"}')
recs.append('{"ts":1609459200,"i":"nokey"}')
for n, r in enumerate(recs):
    open(os.path.join(d, "r%02d" % n), "w").write(r)
PY
put_files mx "$T_TMP"/mx/r*

cat >"$T_TMP/check_mx.py" <<'PY'
import base64, glob, json, os, re, sys, time
root, src = sys.argv[1], sys.argv[2]
want = {}
for p in sorted(glob.glob(src + "/r*")):
    text = open(p).read()
    dec = json.JSONDecoder()
    pos, objs = 0, []
    try:
        while pos < len(text.rstrip()):
            while text[pos] in " \n": pos += 1
            o, end = dec.raw_decode(text, pos)
            objs.append(text[pos:end]); pos = end
            while pos < len(text) and text[pos] in " \n": pos += 1
    except ValueError:
        continue
    for s in objs:
        o = json.loads(s)
        if "customer_id" not in o or not isinstance(o["ts"], int): continue
        y = time.strftime("%Y", time.gmtime(o["ts"]))
        want.setdefault(f"customer={o['customer_id']}/year={y}", []).append(s.encode() + b"\n")
errs = []
got = {}
for p in glob.glob(root + "/customer=*/**/*", recursive=True):
    if os.path.isfile(p):
        rel = os.path.relpath(p, root)
        part = "/".join(rel.split("/")[:2])
        if not re.fullmatch(r"customer=\w+/year=\d{4}/\d{4}/\d\d/\d\d/\d\d/mx-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}", rel):
            errs.append("bad key " + rel)
        got.setdefault(part, []).extend(l + b"\n" for l in open(p, "rb").read().split(b"\n") if l)
for k in set(want) | set(got):
    if sorted(want.get(k, [])) != sorted(got.get(k, [])):
        errs.append(f"{k}: {len(got.get(k, []))} records, want {len(want.get(k, []))}")
def docs(kind):
    return [json.loads(l) for p in glob.glob(f"{root}/errors/{kind}/**/*", recursive=True)
            if os.path.isfile(p) for l in open(p, "rb") if l.strip()]
pf, mf = docs("processing-failed"), docs("partitioning-failed")
if [(base64.b64decode(d["rawData"]), d["errorCode"]) for d in pf] != \
   [(open(src + "/r12", "rb").read(), "RecordDeAggregation.InvalidJSON")]:
    errs.append(f"processing-failed: {pf}")
if any("lambdaARN" in d for d in pf): errs.append("lambdaARN in a built-in failure")
m = sorted((base64.b64decode(d["rawData"]).decode(), d["errorCode"]) for d in mf)
if m != sorted([('{"customer_id":"acme","ts":"soon","i":"jqerr"}', "DynamicPartitioning.MetadataExtractionFailed"),
                ('{"ts":1609459200,"i":"nokey"}', "DynamicPartitioning.MissingPartitionKey")]):
    errs.append(f"partitioning-failed: {m}")
for d in pf + mf:
    if list(d)[:6] != ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData"]:
        errs.append(f"doc fields {list(d)}")
jq = [d["errorMessage"] for d in mf if d["errorCode"].endswith("MetadataExtractionFailed")]
if jq and "strftime/1 requires parsed datetime inputs" not in jq[0]: errs.append("jq message: " + jq[0])
print(json.dumps({"partitions": sorted(got), "errors": errs[:6]}))
sys.exit(1 if errs else 0)
PY
wait_for 20 "$PY" "$T_TMP/check_mx.py" "$out" "$T_TMP/mx" >/dev/null 2>&1
r=$("$PY" "$T_TMP/check_mx.py" "$out" "$T_TMP/mx") || fail "mx: $r; files: $(cd "$out" && find . -type f | head -30)"
log "mx: de-aggregated, partitioned by jq keys, errors in their folders: $r"

# ---- ap: MaxActivePartitions 2 in one batch ----
mkdir -p "$T_TMP/apin"
for k in a b a c d b; do
    printf '{"k":"%s","n":%s}' "$k" "$RANDOM" >"$T_TMP/apin/$(ls "$T_TMP/apin" | wc -l | awk '{printf "r%02d", $1}')"
done
put_files ap "$T_TMP"/apin/r*
wait_for 20 sh -c "ls $T_TMP/ap/errors/activePartitionExceeded/*/*/*/*/* >/dev/null 2>&1 && ls $T_TMP/ap/k=b/*/*/*/*/* >/dev/null 2>&1"
"$PY" - "$T_TMP/ap" "$T_TMP/apin" <<'PY' || fail "ap: partitions past MaxActivePartitions"
import base64, glob, json, os, sys
root, src = sys.argv[1], sys.argv[2]
recs = [open(p, "rb").read() for p in sorted(glob.glob(src + "/r*"))]
def data(part):
    return sorted(l + b"\n" for p in glob.glob(f"{root}/k={part}/**/*", recursive=True)
                  if os.path.isfile(p) for l in open(p, "rb").read().split(b"\n") if l)
assert data("a") == sorted(r + b"\n" for r in recs if b'"k":"a"' in r), data("a")
assert data("b") == sorted(r + b"\n" for r in recs if b'"k":"b"' in r), data("b")
assert not glob.glob(root + "/k=c") and not glob.glob(root + "/k=d")
docs = [json.loads(l) for p in glob.glob(root + "/errors/activePartitionExceeded/**/*", recursive=True)
        if os.path.isfile(p) for l in open(p, "rb") if l.strip()]
assert sorted(base64.b64decode(d["rawData"]) for d in docs) == sorted(r for r in recs if b'"k":"c"' in r or b'"k":"d"' in r), docs
assert all(d["errorCode"] == "DynamicPartitioning.ActivePartitionExceeded" for d in docs), docs
PY
log "ap: 2 partitions open, the rest in activePartitionExceeded"

# ---- lj: Lua keys and query keys in one prefix, Lua first ----
mkdir -p "$T_TMP/ljin"
printf '{"c":"acme","n":1}' >"$T_TMP/ljin/r0"
printf '{"c":"globex","n":2}' >"$T_TMP/ljin/r1"
printf '{"c":"acme","n":3}' >"$T_TMP/ljin/r2"
put_files lj "$T_TMP"/ljin/r*
wait_for 20 sh -c "cat $T_TMP/lj/src=lua/c=ACME/*/* 2>/dev/null | grep -q '\"n\":3'"
got=$(cat "$T_TMP"/lj/src=lua/c=ACME/*/*)
assert_eq '{"c":"ACME","n":1}
{"c":"ACME","n":3}' "$got" "lj: src=lua/c=ACME (the query saw Lua's output)"
assert_eq '{"c":"globex","n":2}' "$(cat "$T_TMP"/lj/src=lua/c=globex/*/*)" "lj: src=lua/c=globex"
log "lj: partitionKeyFromLambda and partitionKeyFromQuery in one prefix, Lua ran first"

# ---- cwl: CloudWatch Logs envelopes into s3rver ----
mkdir -p "$T_TMP/cw"
"$PY" - "$T_TMP/cw" <<'PY'
import gzip, json, os, sys
d = sys.argv[1]
def env(kind, msgs):
    return {"messageType": kind, "owner": "123456789012", "logGroup": "/aws/lambda/f",
            "logStream": "2026/12/04/[$LATEST]abc", "subscriptionFilters": ["to-firehose"],
            "logEvents": [{"id": str(36000000000000000000000000000000000000000000000000000000 + i),
                           "timestamp": 1764806400000 + i, "message": m} for i, m in enumerate(msgs)]}
msgs = []
for n in range(3):
    m = [f"START RequestId: {n}", json.dumps({"level": "info", "n": n, "text": "caf\u00e9 \"quoted\""}), "tab\there"]
    msgs.append(m)
    open(os.path.join(d, f"r{n}"), "wb").write(gzip.compress(json.dumps(env("DATA_MESSAGE", m)).encode()))
open(os.path.join(d, "r3"), "wb").write(gzip.compress(json.dumps(env("CONTROL_MESSAGE",
    ["CWL CONTROL MESSAGE: Checking health of destination Firehose."])).encode()))
open(os.path.join(d, "r4"), "wb").write(b"this record is not gzip")
with open(os.path.join(d, "want"), "wb") as f:
    for m in msgs:
        for x in m: f.write(x.encode() + b"\n")
PY
put_files cwl "$T_TMP"/cw/r*
cat >"$T_TMP/check_cw.py" <<'PY'
import base64, glob, json, os, sys
root, src = sys.argv[1], sys.argv[2]
got = b"".join(open(p, "rb").read() for p in sorted(glob.glob(root + "/test-bucket/logs/**/*._S3rver_object", recursive=True)))
want = open(src + "/want", "rb").read()
assert sorted(got.split(b"\n")) == sorted(want.split(b"\n")), (got[:300], want[:300])
docs = [json.loads(l) for p in glob.glob(root + "/test-bucket/errors/decompression-failed/**/*._S3rver_object", recursive=True)
        for l in open(p, "rb") if l.strip()]
assert [base64.b64decode(d["rawData"]) for d in docs] == [open(src + "/r4", "rb").read()], docs
assert docs[0]["errorCode"] == "Decompression.Failed", docs
assert not glob.glob(root + "/test-bucket/errors/processing-failed")
PY
wait_for 20 "$PY" "$T_TMP/check_cw.py" "$S3_DIR" "$T_TMP/cw" >/dev/null 2>&1
"$PY" "$T_TMP/check_cw.py" "$S3_DIR" "$T_TMP/cw" || fail "cwl: delivered messages or decompression-failed output differ"
log "cwl: messages extracted byte for byte, CONTROL_MESSAGE dropped, bad gzip in decompression-failed"

# ---- hcw: the same envelopes to an HTTP endpoint, one record per message ----
put_files hcw "$T_TMP"/cw/r*
cat >"$T_TMP/check_hcw.py" <<'PY'
import base64, glob, json, sys
out, src, s3 = sys.argv[1], sys.argv[2], sys.argv[3]
got = [base64.b64decode(r) for l in open(out) if l.strip() for r in json.loads(l)["records"]
       if json.loads(l)["status"] == 200]
want = [m for m in open(src + "/want", "rb").read().split(b"\n") if m]
assert sorted(got) == sorted(want), (got[:4], want[:4])
docs = [json.loads(l) for p in glob.glob(s3 + "/test-bucket/hcw/decompression-failed/**/*._S3rver_object", recursive=True)
        for l in open(p, "rb") if l.strip()]
assert [base64.b64decode(d["rawData"]) for d in docs] == [open(src + "/r4", "rb").read()], docs
PY
wait_for 20 "$PY" "$T_TMP/check_hcw.py" "$T_TMP/web.jsonl" "$T_TMP/cw" "$S3_DIR" >/dev/null 2>&1
"$PY" "$T_TMP/check_hcw.py" "$T_TMP/web.jsonl" "$T_TMP/cw" "$S3_DIR" ||
    fail "hcw: records at the HTTP endpoint or decompression-failed in the backup bucket differ"
log "hcw: one HTTP record per log message; bad gzip in the backup bucket's decompression-failed"
kill -0 "$FH_PID" || fail "firehosed died"
result "de-aggregation + jq partitions, Lua + jq keys, active-partition cap, CloudWatch Logs extraction to S3 and an HTTP endpoint: all byte for byte"
