#!/usr/bin/env bash
# t_partitions: dynamic partitioning buffers each partition across batches
# (delivery/pbuf.h). A hot partition (~2 MB/s, SizeInMBs 1) and two quiet
# ones (a record every 0.2 s) share a stream with IntervalInSeconds 2 for
# 6 s: the hot one flushes by size (objects near 1 MiB), each quiet one
# only on its own interval (about one object per 2 s, not one per sealed
# batch), and every record arrives exactly once. Then records flow to
# three partitions (one flushing by size about every second, two by their
# 2 s interval, so a batch is often stored in one partition and still
# buffered in another) while firehosed is killed with SIGKILL (KILLS
# times, 1-3 s apart) and restarted, then stopped with SIGTERM and
# restarted: every acknowledged record is delivered at least once; the
# extra copies (batches re-delivered after a kill) are counted.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
KILLS=${KILLS:-3}

port=$(free_port)
param() { printf '{ "ParameterName": "%s", "ParameterValue": "%s" }' "$1" "$2"; }
dp_stream() {   # dp_stream NAME DIR
    cat <<JSON
    { "DeliveryStreamName": "$1", "LocalDirectoryDestinationConfiguration": { "Path": "$2",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 2 }, "CompressionFormat": "UNCOMPRESSED",
        "DynamicPartitioningConfiguration": { "Enabled": true },
        "Prefix": "p=!{partitionKeyFromQuery:p}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "MetadataExtraction", "Parameters": [
              $(param MetadataExtractionQuery '{p: .p}'), $(param JsonParsingEngine JQ-1.6) ] },
          { "Type": "AppendDelimiterToRecord", "Parameters": [] } ] } } }
JSON
}
cat >"$T_TMP/cfg.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state", "DeliveryWorkersPerStream": 2 },
  "DeliveryStreams": [ $(dp_stream hot "$T_TMP/hot"), $(dp_stream dk "$T_TMP/dk") ] }
JSON
start_firehosed "$T_TMP/cfg.json" "$port" "$T_TMP/fh.log"

# send.py STREAM TAG SECONDS PERIOD HOT_RECORDS ACKED: every PERIOD seconds
# one PutRecordBatch of HOT_RECORDS 10 KB records for partition a and one
# small record each for b and c; the ids of acknowledged records go to
# ACKED. Connection errors (firehosed being restarted) are retried later.
cat >"$T_TMP/send.py" <<'PY'
import base64, json, sys, time, urllib.request
ep, stream, tag, secs, period, hot, acked = sys.argv[1], sys.argv[2], sys.argv[3], \
    float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
n, t_end = 0, time.time() + secs
with open(acked, "a") as out:
    while time.time() < t_end:
        t0 = time.time()
        recs = []
        for p, count, pad in (("a", hot, 10000), ("b", 1, 10), ("c", 1, 10)):
            for _ in range(count):
                rid = f"{tag}-{n:07d}"
                n += 1
                recs.append((rid, json.dumps({"p": p, "id": rid, "pad": "x" * pad})))
        body = json.dumps({"DeliveryStreamName": stream, "Records": [
            {"Data": base64.b64encode(r.encode()).decode()} for _, r in recs]}).encode()
        req = urllib.request.Request(ep + "/", body, {
            "X-Amz-Target": "Firehose_20150804.PutRecordBatch",
            "Content-Type": "application/x-amz-json-1.1"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                res = json.load(r)
            for (rid, _), rr in zip(recs, res["RequestResponses"]):
                if "RecordId" in rr:
                    out.write(rid + "\n")
            out.flush()
        except OSError:
            pass
        time.sleep(max(0.0, period - (time.time() - t0)))
PY
# count.py DIR: per partition, objects and records (and their ids)
cat >"$T_TMP/count.py" <<'PY'
import glob, json, os, sys
root = sys.argv[1]
res = {}
for p in "abc":
    objs, ids, sizes = 0, [], []
    for f in glob.glob(f"{root}/p={p}/**/*", recursive=True):
        if not os.path.isfile(f) or os.path.basename(f).startswith("."):
            continue
        objs += 1
        sizes.append(os.path.getsize(f))
        ids += [json.loads(l)["id"] for l in open(f) if l.strip()]
    res[p] = {"objects": objs, "records": len(ids), "distinct": len(set(ids)),
              "max_bytes": max(sizes or [0]), "ids": ids}
errs = glob.glob(f"{root}/errors/**/*", recursive=True)
res["errors"] = len([f for f in errs if os.path.isfile(f)])
print(json.dumps(res))
PY
cnt() { "$PY" "$T_TMP/count.py" "$1"; }
field() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# ---- per-partition buffers: size for the hot one, interval for the rest ----
: >"$T_TMP/hot.acked"
"$PY" "$T_TMP/send.py" "$FH_ENDPOINT" hot h 6 0.2 40 "$T_TMP/hot.acked" || fail "sender failed"
sent=$(wc -l <"$T_TMP/hot.acked")
[ "$sent" -ge 300 ] || fail "only $sent records acknowledged"
delivered() { [ "$(cnt "$1" | field "sum(d[p]['records'] for p in 'abc')")" -ge "$2" ]; }
wait_for 20 delivered "$T_TMP/hot" "$sent" || fail "hot: not every record delivered: $(cnt "$T_TMP/hot" | field '{p: d[p]["records"] for p in "abc"}')"
r=$(cnt "$T_TMP/hot")
summary=$(printf '%s' "$r" | field '{p: (d[p]["objects"], d[p]["records"], d[p]["max_bytes"]) for p in "abc"}')
log "hot: (objects, records, largest object) per partition: $summary"
[ "$(printf '%s' "$r" | field "sum(d[p]['distinct'] for p in 'abc')")" = "$sent" ] || fail "hot: duplicates or strays: $summary"
[ "$(printf '%s' "$r" | field 'd["errors"]')" = 0 ] || fail "hot: error output written"
# About 6 s at 2 s each from the first record: 3 or 4 objects (one per
# sealed batch would be 12 or more).
for p in b c; do
    o=$(printf '%s' "$r" | field "d['$p']['objects']")
    [ "$o" -ge 3 ] && [ "$o" -le 5 ] || fail "partition $p: $o objects for 6 s at a 2 s interval: $summary"
done
# Size flushes: near 1 MiB, never past it (records are 10 KB). How many
# depends on how fast this machine lets the sender go.
o=$(printf '%s' "$r" | field "d['a']['objects']")
big=$(printf '%s' "$r" | field "d['a']['max_bytes']")
[ "$o" -ge 2 ] && [ "$big" -le 1048576 ] && [ "$big" -ge 900000 ] || fail "partition a: $o objects, largest $big bytes"

# ---- kill -9 while partitions hold records of several batches ----
: >"$T_TMP/dk.acked"
"$PY" "$T_TMP/send.py" "$FH_ENDPOINT" dk k $((3 * KILLS + 4)) 0.1 10 "$T_TMP/dk.acked" &
sp=$!; track_pid $sp
for k in $(seq 1 "$KILLS"); do
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1 + 2 * r / 32767 }')"
    before=$(wc -l <"$T_TMP/dk.acked")
    kill9 "$FH_PID"
    log "kill -9 #$k with $before records acknowledged"
    start_firehosed "$T_TMP/cfg.json" "$port" "$T_TMP/fh.log" 30
done
# A SIGTERM stores what the buffers hold (no duplicates from it) and
# exits 0 promptly.
sleep 2.5
t0=$SECONDS
stop_pid "$FH_PID" 15; rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM with partitions buffered (took $((SECONDS - t0)) s)"
start_firehosed "$T_TMP/cfg.json" "$port" "$T_TMP/fh.log" 30
wait $sp || fail "sender failed"
acked=$(sort -u "$T_TMP/dk.acked" | wc -l)
allin() {
    cnt "$T_TMP/dk" | "$PY" -c 'import json,sys
d = json.load(sys.stdin); got = set(i for p in "abc" for i in d[p]["ids"])
want = set(open(sys.argv[1]).read().split())
sys.exit(0 if want <= got else 1)' "$T_TMP/dk.acked"
}
wait_for 20 allin || fail "dk: acknowledged records lost after kill -9"
r=$(cnt "$T_TMP/dk")
total=$(printf '%s' "$r" | field "sum(d[p]['records'] for p in 'abc')")
objs=$(printf '%s' "$r" | field "sum(d[p]['objects'] for p in 'abc')")
log "dk: $acked acked, all delivered after $KILLS kill -9 and a SIGTERM; $total records in $objs objects ($((total - acked)) duplicates or unacked retries)"
result "3 partitions over 6 s, interval 2 s: $summary (objects, records, largest); $KILLS kill -9 + SIGTERM: $acked acked all delivered, $((total - acked)) extra"
log "PASS"
