#!/usr/bin/env bash
# t_multipart: a 50 MiB object goes to s3rver as a multipart upload (16 MiB
# threshold, 8 MiB parts: 7 parts) sent while the batch is compressed; the
# stored object equals what was sent, byte for byte; firehosed's peak RSS
# growth is at least 25 MiB below that of the same 50 MiB as one PutObject
# (the object is never held whole beside the batch). Then a 20 MiB object through a proxy that fails one
# UploadPart: the upload is aborted (s3rver answers MethodNotAllowed, which
# is logged and tolerated) and retried from the start.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# send_mb ENDPOINT STREAM TOTAL_BYTES SENT_FILE SEED: PutRecordBatch calls of
# 4 records (at most 1,024,000 bytes each: 4 MB per request), half random,
# half text; appends the exact bytes to SENT_FILE.
send_mb() {
    "$PY" - "$@" <<'PYEOF'
import base64, json, random, sys, urllib.request
ep, stream, total, sent, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rnd = random.Random(seed)
text = b"".join(b'{"n":%d,"msg":"multipart test line"}\n' % i for i in range(30000))
left = total
with open(sent, "ab") as f:
    while left > 0:
        recs = []
        for _ in range(4):
            if left == 0:
                break
            n = min(1024000, left)
            half = n // 2
            off = rnd.randrange(0, len(text) - half)
            b = rnd.randbytes(n - half) + text[off:off + half]
            f.write(b)
            recs.append({"Data": base64.b64encode(b).decode()})
            left -= n
        body = json.dumps({"DeliveryStreamName": stream, "Records": recs}).encode()
        rq = urllib.request.Request(ep + "/", data=body, method="POST", headers={
            "X-Amz-Target": "Firehose_20150804.PutRecordBatch",
            "Content-Type": "application/x-amz-json-1.1"})
        with urllib.request.urlopen(rq, timeout=30) as r:
            out = json.load(r)
        if out.get("FailedPutCount", 1) != 0:
            sys.exit("PutRecordBatch failed: %s" % json.dumps(out)[:300])
PYEOF
}

# mp_stream NAME SIZE_MB
mp_stream() {
    cat <<JSON
    { "DeliveryStreamName": "$1",
      "ExtendedS3DestinationConfiguration": { "BucketARN": "arn:aws:s3:::test-bucket",
        "Prefix": "$1/", "BufferingHints": { "SizeInMBs": $2, "IntervalInSeconds": 900 },
        "CompressionFormat": "UNCOMPRESSED" } }
JSON
}

# objects DIR PREFIX: stored object files under s3rver's data dir
objects() { find "$1/test-bucket/$2" -name '*._S3rver_object' 2>/dev/null | sort; }
# stored_as NAME SENT: exactly one object under NAME/, equal to SENT
stored_as() {
    local objs
    mapfile -t objs < <(objects "$S3_DIR" "$1")
    [ "${#objs[@]}" = 1 ] && cmp -s "${objs[0]}" "$2"
}

# run_50 NAME THRESHOLD: a fresh firehosed with S3MultipartThresholdBytes
# THRESHOLD receives 50 MiB for stream NAME (one batch, one object); sets
# GROW_MB (peak RSS growth: VmHWM at the end minus VmRSS at start) and OBJ.
run_50() {
    local name=$1 thr=$2 port base_kb hwm_kb t0 objs
    port=$(free_port)
    write_config "$T_TMP/$name.json" "$port" "$T_TMP/state-$name" "$S3_ENDPOINT" 1073741824 "[ $(mp_stream "$name" 50) ]"
    "$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); c["Service"]["S3MultipartThresholdBytes"] = int(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"))' "$T_TMP/$name.json" "$thr" || fail "config edit failed"
    start_firehosed "$T_TMP/$name.json" "$port"
    sleep 0.3
    base_kb=$(rss_kb "$FH_PID")
    : >"$T_TMP/$name.sent"
    t0=$SECONDS
    send_mb "$FH_ENDPOINT" "$name" "$total" "$T_TMP/$name.sent" 7 || fail "sending 50 MiB to $name failed"
    wait_for 60 stored_as "$name" "$T_TMP/$name.sent" ||
        fail "no object equal to the records sent under $name/ within 60 s: $(objects "$S3_DIR" "$name")"
    sleep 0.3
    hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$FH_PID/status")
    GROW_MB=$(( (hwm_kb - base_kb) / 1024 ))
    log "$name: 50 MiB sent and stored in $((SECONDS - t0)) s, peak RSS growth $GROW_MB MiB"
    mapfile -t objs < <(objects "$S3_DIR" "$name")
    OBJ=${objs[0]#"$S3_DIR/test-bucket/"}; OBJ=${OBJ%._S3rver_object}
    stop_pid "$FH_PID" 10 || fail "firehosed ($name) did not stop cleanly"
}

start_s3rver "$T_TMP/s3" 0 test-bucket
total=$((50 * 1024 * 1024))

# ---- 1. reference: one PutObject (threshold 5 GiB), then multipart
run_50 put 5368709120
grep -q "multipart upload of 'put/" "$FH_LOG" && fail "a 5 GiB threshold still went multipart"
put_mb=$GROW_MB
run_50 big 16777216
mp_mb=$GROW_MB
line=$(grep "multipart upload of 'big/" "$FH_LOG" | grep complete | head -n1)
[ -n "$line" ] || fail "the 50 MiB object did not go up as a multipart upload: the worker must store objects through sink_deliver() (destinations/sink.h)"
assert_match 'complete: 7 parts' "$line" "part count of a 50 MiB object (16 MiB threshold, 8 MiB parts)"
h=$("$AWS" --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket test-bucket --key "$OBJ" 2>&1) || fail "head-object $OBJ: $h"
assert_eq "$total" "$(printf '%s' "$h" | jget '.ContentLength')" "ContentLength of the multipart object"
assert_eq application/octet-stream "$(printf '%s' "$h" | jget '.ContentType')" "Content-Type of the multipart object"
# Both runs stream the 50 MiB batch from the spool a 4 MiB window at a
# time (no processing: delivery/stream.c deliver_streamed) and share the
# ingest path; only the output differs: the whole object (50 MiB) against
# at most the threshold (16 MiB) plus a staging run. With multipart the
# growth stays below the object's size.
log "peak RSS growth: PutObject $put_mb MiB, multipart $mp_mb MiB"
[ $((put_mb - mp_mb)) -ge 25 ] ||
    fail "multipart saved only $((put_mb - mp_mb)) MiB of peak RSS over one PutObject ($mp_mb vs $put_mb MiB; expected >= 25)"
[ "$mp_mb" -lt 50 ] ||
    fail "a 50 MiB object through multipart grew peak RSS by $mp_mb MiB (expected below the object size)"

# ---- 2. one UploadPart fails: abort (405 from s3rver), retry from the start
"$PY" - "$S3_PORT" >"$T_TMP/proxy.out" 2>"$T_TMP/proxy.err" <<'PYEOF' &
import http.client, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
UP = int(sys.argv[1]); seen = {"parts": 0, "aborts": 0}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _go(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.command == "DELETE":
            seen["aborts"] += 1
            print("ABORT", flush=True)
        if self.command == "PUT" and "partNumber=" in self.path:
            seen["parts"] += 1
            if seen["parts"] == 2:
                msg = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                self.send_response(500); self.send_header("Content-Length", str(len(msg)))
                self.end_headers(); self.wfile.write(msg); return
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=60)
        hd = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        c.request(self.command, self.path, body=body, headers=hd)
        r = c.getresponse(); data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _go
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("PORT", s.server_address[1], flush=True)
s.serve_forever()
PYEOF
track_pid $!
wait_for 10 grep -qs '^PORT ' "$T_TMP/proxy.out" || fail "failing proxy did not start"
pport=$(sed -n 's/^PORT //p' "$T_TMP/proxy.out")
port=$(free_port)
write_config "$T_TMP/cfg2.json" "$port" "$T_TMP/state2" "http://127.0.0.1:$pport" 1073741824 "[ $(mp_stream retry 20) ]"
start_firehosed "$T_TMP/cfg2.json" "$port"
: >"$T_TMP/retry.sent"
send_mb "$FH_ENDPOINT" retry $((20 * 1024 * 1024)) "$T_TMP/retry.sent" 11 || fail "sending 20 MiB failed"
wait_for 60 grep -q "multipart upload of 'retry/.*' complete" "$FH_LOG" ||
    fail "the retried multipart upload did not complete within 60 s"
grep -q "UploadPart '.*HTTP 500 InternalError: injected" "$FH_LOG" || fail "the injected UploadPart failure was not logged"
grep -q "does not support AbortMultipartUpload (HTTP 405)" "$FH_LOG" || fail "the abort (s3rver: MethodNotAllowed) was not logged"
grep -q '^ABORT' "$T_TMP/proxy.out" || fail "no AbortMultipartUpload request was sent"
stored_as retry "$T_TMP/retry.sent" || fail "the retried multipart object differs from the records sent"
result "50 MiB in 7 parts, peak RSS +$mp_mb MiB (one PutObject: +$put_mb MiB); failed part -> abort (405) -> retry OK"
log "PASS"
