#!/usr/bin/env bash
# t_lua: Lua transforms end to end. A script marks records Ok (rewritten),
# Dropped or ProcessingFailed and returns partition keys; checked byte for
# byte in the local directory (dynamic partitioning, AppendDelimiterToRecord)
# and in s3rver (error output under the default prefix). A script that loops
# or eats memory fails only its records (Lua.Timeout,
# Lua.MemoryLimitExceeded) and the service goes on; a broken reload keeps the
# previous version; a fixed one is picked up.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

xdir=$T_TMP/transforms
mkdir -p "$xdir"
cat >"$xdir/t.lua" <<'LUA'
-- Rewrites "keep" to "KEPT", drops and fails on request, routes by "c".
function transform(record)
  local d = record.data
  if d:find('"act":"drop"', 1, true) then return "Dropped" end
  if d:find('"act":"fail"', 1, true) then return "ProcessingFailed", "asked to fail" end
  local out = d:gsub("keep", "KEPT")
  local c = d:match('"c":"(%w+)"')
  return "Ok", out, { customer = c }
end
LUA
cat >"$xdir/bad.lua" <<'LUA'
function transform(record)
  if record.data:find("loop", 1, true) then while true do end end
  if record.data:find("bomb", 1, true) then
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep("x", 64) .. i end
  end
  if record.data:find("oops", 1, true) then error("oops asked") end
  if record.data:find("weird", 1, true) then return "Maybe" end
  return "Ok"
end
LUA

start_s3rver "$T_TMP/s3" 0 test-bucket
port=$(free_port)
out=$T_TMP/out
lua_proc() {   # lua_proc SCRIPT RETRIES DELIM(0/1)
    local delim=""
    [ "$3" = 1 ] && delim=', { "Type": "AppendDelimiterToRecord", "Parameters": [] }'
    printf '"ProcessingConfiguration": { "Enabled": true, "Processors": [ { "Type": "Lua", "Parameters": [
        { "ParameterName": "ScriptName", "ParameterValue": "%s" },
        { "ParameterName": "NumberOfRetries", "ParameterValue": "%s" } ] }%s ] }' "$1" "$2" "$delim"
}
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "TransformsDirectory": "$xdir", "LuaInstructionBudget": 5000000,
               "LuaMemoryLimitBytes": 16777216, "Endpoints": { "S3": "$S3_ENDPOINT" } },
  "DeliveryStreams": [
    { "DeliveryStreamName": "dp", "LocalDirectoryDestinationConfiguration": { "Path": "$out",
        "Prefix": "c=!{partitionKeyFromLambda:customer}/", "ErrorOutputPrefix": "err/!{firehose:error-output-type}/",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "GZIP",
        "DynamicPartitioningConfiguration": { "Enabled": true },
        $(lua_proc t.lua 0 1) } },
    { "DeliveryStreamName": "s3lua", "ExtendedS3DestinationConfiguration": { "BucketARN": "arn:aws:s3:::test-bucket",
        "Prefix": "lua/", "ErrorOutputPrefix": "",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "GZIP",
        "S3BackupMode": "Enabled", "S3BackupConfiguration": { "BucketARN": "arn:aws:s3:::test-bucket",
            "Prefix": "raw/", "CompressionFormat": "UNCOMPRESSED" },
        $(lua_proc t.lua 0 0) } },
    { "DeliveryStreamName": "bad", "LocalDirectoryDestinationConfiguration": { "Path": "$T_TMP/bad",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED",
        $(lua_proc bad.lua 1 1) } } ] }
JSON
# A script named in the config but missing is a start-up error.
mv "$xdir/t.lua" "$xdir/t.lua.away"
"$FIREHOSED" --config "$T_TMP/cfg.json" >"$T_TMP/missing.log" 2>&1 &
pid=$!
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -9 $pid; fail "firehosed started without its script"; }
wait $pid && fail "firehosed exited 0 without its script"
grep -q "t.lua" "$T_TMP/missing.log" || fail "the start-up error does not name the script: $(cat "$T_TMP/missing.log")"
mv "$xdir/t.lua.away" "$xdir/t.lua"
start_firehosed "$T_TMP/cfg.json" "$port"

# send STREAM FILE: one PutRecordBatch of the JSON lines in FILE (no newline added)
send() {
    "$PY" - "$2" >"$T_TMP/req.json" <<'PY'
import base64, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
print(json.dumps([{"Data": base64.b64encode(l).decode()} for l in lines if l]))
PY
    r=$(aws_fh put-record-batch --delivery-stream-name "$1" --records "file://$T_TMP/req.json" 2>&1) ||
        fail "put-record-batch to $1 failed: $r"
    assert_eq 0 "$(printf '%s' "$r" | jget '.FailedPutCount')" "FailedPutCount ($r)"
}

"$PY" - "$T_TMP/in.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(60):
        act = "drop" if i % 10 == 7 else "fail" if i % 10 == 9 else "keep"
        c = ["acme", "globex", None][i % 3]
        cpart = f',"c":"{c}"' if c else ""
        f.write(f'{{"i":{i}{cpart},"act":"{act}","note":"keep me"}}\n')
PY
send dp "$T_TMP/in.txt"
send s3lua "$T_TMP/in.txt"

# check.py MODE ROOT: compare what was delivered with what the script says.
cat >"$T_TMP/check.py" <<'PY'
import base64, glob, gzip, json, os, re, sys
mode, root, inp = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [l for l in open(inp, "rb").read().split(b"\n") if l]
def objs(pattern):
    out = {}
    for p in glob.glob(os.path.join(root, pattern), recursive=True):
        if os.path.isfile(p) and not ".tmp-" in p:
            data = open(p, "rb").read()
            if p.endswith(".gz") or p.endswith("._S3rver_object"):
                try: data = gzip.decompress(data)
                except OSError: pass
            out[os.path.relpath(p, root)] = data
    return out
kept = [l for l in lines if b'"act":"keep"' in l]
failed = [l for l in lines if b'"act":"fail"' in l]
errs = []
def docs(d):
    return [json.loads(x) for blob in d.values() for x in blob.split(b"\n") if x]
if mode == "dp":
    for c in (b"acme", b"globex"):
        want = sorted(l.replace(b"keep", b"KEPT") + b"\n" for l in kept if b'"c":"' + c + b'"' in l)
        got = objs(f"c={c.decode()}/**/*")
        have = sorted(r + b"\n" for blob in got.values() for r in blob.split(b"\n") if r)
        if have != want: errs.append(f"partition {c}: {len(have)} records, want {len(want)}")
        for k in got:
            if not re.fullmatch(r"c=%s/\d{4}/\d\d/\d\d/\d\d/dp-1-\d{4}(-\d\d){5}-[0-9a-f-]{36}\.gz" % c.decode(), k):
                errs.append(f"bad key {k}")
    pf = docs(objs("err/processing-failed/**/*"))
    nokey = [l for l in kept if b'"c":"' not in l]
    df = docs(objs("err/partitioning-failed/**/*"))
    prefix_fail, prefix_part = "processing-failed", "partitioning-failed"
else:
    got = objs("test-bucket/lua/2*/**/*._S3rver_object")
    # No delimiter on this stream: records follow each other as "}{".
    have = sorted(r for blob in got.values() for r in re.split(rb'(?<=\})(?=\{"i")', blob) if r)
    want = sorted(l.replace(b"keep", b"KEPT") for l in kept)
    if have != want: errs.append(f"s3: {len(have)} records, want {len(want)}")
    pf = docs(objs("test-bucket/lua/processing-failed/**/*._S3rver_object"))
    nokey, df = [], []
if sorted(base64.b64decode(d["rawData"]) for d in pf) != sorted(failed):
    errs.append(f"processing-failed: {len(pf)} docs, want {len(failed)}")
for d in pf:
    want_keys = ["attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "attemptEndingTimestamp", "rawData", "lambdaARN"]
    if list(d) != want_keys: errs.append(f"doc fields {list(d)}")
    if d["errorCode"] != "Lua.ProcessingFailedStatus" or d["errorMessage"] != "asked to fail" or d["lambdaARN"] != "t.lua":
        errs.append(f"doc {d}")
if sorted(base64.b64decode(d["rawData"]) for d in df) != sorted(nokey):
    errs.append(f"partitioning-failed: {len(df)} docs, want {len(nokey)}")
print(json.dumps({"mode": mode, "errors": errs[:5]}))
sys.exit(1 if errs else 0)
PY
wait_for 20 "$PY" "$T_TMP/check.py" dp "$out" "$T_TMP/in.txt" >/dev/null 2>&1
r=$("$PY" "$T_TMP/check.py" dp "$out" "$T_TMP/in.txt") || fail "local/dp: $r; files: $(cd "$out" && find . -type f | head -20)"
wait_for 20 "$PY" "$T_TMP/check.py" s3 "$S3_DIR" "$T_TMP/in.txt" >/dev/null 2>&1
r=$("$PY" "$T_TMP/check.py" s3 "$S3_DIR" "$T_TMP/in.txt") || fail "s3: $r; keys: $(cd "$S3_DIR" && find . -name '*._S3rver_object' | head -20)"
# S3BackupMode Enabled: the source records, untransformed, under raw/.
wait_for 20 sh -c "cat $S3_DIR/test-bucket/raw/*/*/*/*/*._S3rver_object 2>/dev/null | grep -c '\"i\":' | grep -qx 60"
"$PY" - "$S3_DIR/test-bucket" "$T_TMP/in.txt" <<'PY' || fail "source-record backup differs from what was sent"
import glob, os, re, sys
root, inp = sys.argv[1], sys.argv[2]
sent = sorted(l for l in open(inp, "rb").read().split(b"\n") if l)
got = []
for p in glob.glob(os.path.join(root, "raw/**/*._S3rver_object"), recursive=True):
    got += [r for r in re.split(rb'(?<=\})(?=\{"i")', open(p, "rb").read()) if r]
assert sorted(got) == sent, (len(got), len(sent))
PY
log "dp and s3 outputs match the script, byte for byte; source backup holds the originals"

# Failure modes: each fails only its record's batch; the service goes on.
for what in loop bomb oops weird fine; do
    printf '{"what":"%s"}\n' "$what" >"$T_TMP/one.txt"
    send bad "$T_TMP/one.txt"
    sleep 1.2
done
wait_for 30 sh -c "ls $T_TMP/bad/processing-failed/*/*/*/*/* 2>/dev/null | wc -l | grep -qx 4"
codes=$(cat "$T_TMP"/bad/processing-failed/*/*/*/*/* | "$PY" -c '
import json, sys
print(" ".join(sorted(json.loads(l)["errorCode"] for l in sys.stdin if l.strip())))')
assert_eq "Lua.InvalidResult Lua.MemoryLimitExceeded Lua.RuntimeError Lua.Timeout" "$codes" "error codes of the failing scripts"
wait_for 10 sh -c "cat $T_TMP/bad/2*/*/*/*/* 2>/dev/null | grep -q fine"
kill -0 "$FH_PID" || fail "firehosed died"

# Hot reload: a broken script keeps the old version; a fixed one is used.
echo 'function transform(r) return "Ok" end end end' >"$xdir/t.lua.new" && mv "$xdir/t.lua.new" "$xdir/t.lua"
sleep 1.5
printf '{"i":100,"c":"acme","act":"keep"}\n' >"$T_TMP/r1.txt"
send dp "$T_TMP/r1.txt"
wait_for 15 sh -c "zcat $out/c=acme/*/*/*/*/*.gz | grep -q '\"i\":100'"
zcat "$out"/c=acme/*/*/*/*/*.gz | grep -q '"i":100,"c":"acme","act":"KEPT"' || fail "broken reload did not keep the old version"
grep -qi "t.lua" "$FH_LOG" && grep -Eqi "load|syntax|reload" "$FH_LOG" || fail "the broken reload was not logged"
cat >"$xdir/t.lua.new" <<'LUA'
function transform(record)
  return "Ok", "v2:" .. record.data, { customer = "v2" }
end
LUA
mv "$xdir/t.lua.new" "$xdir/t.lua"
sleep 1.5
printf '{"i":101,"c":"acme","act":"keep"}\n' >"$T_TMP/r2.txt"
send dp "$T_TMP/r2.txt"
wait_for 15 sh -c "zcat $out/c=v2/*/*/*/*/*.gz 2>/dev/null | grep -q 'v2:{\"i\":101'" ||
    fail "the fixed script was not picked up: $(find "$out" -type f | tail -5)"
stop_pid "$FH_PID" || fail "firehosed did not stop cleanly"
result "dp + s3 byte for byte; Timeout, MemoryLimitExceeded, RuntimeError, InvalidResult contained; reload ok"
