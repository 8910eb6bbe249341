#!/usr/bin/env bash
# t_quota: DirectPutQuotas. Four JS SDK producers (maxAttempts 1) push
# about four times RecordsPerSecond into a local-directory stream for a
# few seconds: PutRecordBatch answers 200 with entries failed as
# ServiceUnavailableException "Slow down." (FailedPutCount > 0), PutRecord
# gets 503; the records accepted stay within the bucket (rate x time plus
# one second of burst); every accepted record is delivered exactly once and
# nothing refused is; ThrottledRecords shows in /api/status and /metrics.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RATE=200
SECS=6

port=$(free_port)
stream=$(local_stream q "$T_TMP/out" 1 1 |
    sed 's/"DeliveryStreamType": "DirectPut",/&\n      "DirectPutQuotas": { "RecordsPerSecond": '$RATE', "RequestsPerSecond": 1000 },/')
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "http://127.0.0.1:1" 1073741824 "[ $stream ]"
grep -q DirectPutQuotas "$T_TMP/cfg.json" || fail "config without DirectPutQuotas"
start_firehosed "$T_TMP/cfg.json" "$port"

# The raw answers first: a batch over the burst, then at once, on the same
# keep-alive connection, up to 50 PutRecords. A token comes back every 5 ms,
# so a slow (sanitized, loaded) run may see a few PutRecords accepted; one
# of them must meet the empty bucket and get 503.
"$PY" - "$FH_ENDPOINT" "$T_TMP" <<'PYEOF' || fail "raw PutRecordBatch/PutRecord over the quota: $(cat "$T_TMP/raw.err" 2>/dev/null)"
import base64, http.client, json, sys, urllib.parse
ep, tmp = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(ep)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def b64(s):
    return base64.b64encode(s.encode()).decode()
def call(target, body):
    c.request("POST", "/", json.dumps(body), {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Firehose_20150804." + target})
    r = c.getresponse()
    return r.status, r.read().decode()
recs = [{"Data": b64("{c-%07d:1:x}\n" % i)} for i in range(1, 251)]
st, body = call("PutRecordBatch", {"DeliveryStreamName": "q", "Records": recs})
open(tmp + "/batch.out", "w").write(body)
acked, refused = [], None
for k in range(50):
    tag = "c-%07d" % (9999999 - k)
    st1, b1 = call("PutRecord", {"DeliveryStreamName": "q",
                                 "Record": {"Data": b64("{%s:1:x}\n" % tag)}})
    if st1 == 200:
        acked.append(tag)
    elif st1 == 503:
        refused = b1
        break
    else:
        open(tmp + "/raw.err", "w").write("PutRecord answered %d: %s" % (st1, b1))
        sys.exit(1)
open(tmp + "/one.acked", "w").write("".join(t + "\n" for t in acked))
if st != 200 or refused is None:
    open(tmp + "/raw.err", "w").write("batch %d, %d PutRecords accepted, none refused: %s" % (st, len(acked), body[:300]))
    sys.exit(1)
open(tmp + "/one.out", "w").write(refused)
PYEOF
BODY=$(cat "$T_TMP/batch.out")
fpc=$(printf '%s' "$BODY" | jget '.FailedPutCount')
[ "$fpc" -ge 40 ] || fail "250 records against a $RATE-record burst: FailedPutCount $fpc"
assert_eq ServiceUnavailableException "$(printf '%s' "$BODY" | jget '.RequestResponses[249].ErrorCode')" "last entry's ErrorCode"
assert_eq "Slow down." "$(printf '%s' "$BODY" | jget '.RequestResponses[249].ErrorMessage')" "last entry's ErrorMessage"
# The accepted entries are a prefix: their ids, for the verifier.
printf '%s' "$BODY" | "$PY" -c '
import json, sys
rr = json.load(sys.stdin)["RequestResponses"]
ok = [i for i, e in enumerate(rr) if "RecordId" in e]
assert ok and ok == list(range(len(ok))), "accepted entries are not a prefix"
print("\n".join("c-%07d" % (i + 1) for i in ok))' >"$T_TMP/c.acked" || fail "accepted entries are not a prefix: $BODY"
cat "$T_TMP/one.acked" >>"$T_TMP/c.acked"
one=$(cat "$T_TMP/one.out")
assert_eq ServiceUnavailableException "$(printf '%s' "$one" | jget '.__type')" "PutRecord on an empty bucket: __type"
assert_contains "Slow down." "$one" "PutRecord on an empty bucket: message"

# Then the SDK under load, four calls in flight.
sleep 1.1
: >"$T_TMP/L.acked"
t0=$(date +%s.%N)
r=$(fhjs load --endpoint "$FH_ENDPOINT" --stream q --tag L --acked "$T_TMP/L.acked" \
      --concurrency 4 --batch 40 --max-seconds $SECS 2>&1) || fail "producer failed: $r"
dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
log "producer (${dt}s): $r"
acked=$(sort -u "$T_TMP/L.acked" | wc -l)
thr=$(printf '%s' "$r" | jget '.errors.ServiceUnavailableException') || fail "no ServiceUnavailableException seen by the producer: $r"
[ "$(printf '%s' "$r" | jget '.failed_entries')" -gt 0 ] || fail "no PutRecordBatch entry failed (FailedPutCount 0): $r"
max=$(awk -v d="$dt" -v r=$RATE 'BEGIN { printf "%d", r * (d + 1) * 1.05 + 10 }')
[ "$acked" -le "$max" ] || fail "$acked records accepted in ${dt}s at $RATE/s (at most $max with one second of burst)"
[ "$acked" -ge $((RATE * (SECS - 2))) ] || fail "only $acked records accepted in ${dt}s at $RATE/s"

# Delivered exactly once: the accepted records, and no refused one.
v=(--local "$T_TMP/out" --key-re "$(key_re "$HOUR_RE" q)" --acked "$T_TMP/c.acked" --acked "$T_TMP/L.acked" --no-dups)
total=$(( $(wc -l <"$T_TMP/c.acked") + acked ))
wait_for 30 verify "${v[@]}" --expect-count "$total" --quiet >/dev/null 2>&1
out=$(verify "${v[@]}" --expect-count "$total") || fail "accepted records not delivered exactly once: $out"

st=$(curl -s -m 5 "$FH_ENDPOINT/api/status")
trs=$(printf '%s' "$st" | "$PY" -c '
import json, sys
for s in json.load(sys.stdin)["DeliveryStreams"]:
    if s["DeliveryStreamName"] == "q":
        print(s["Counters"]["ThrottledRecords"])') || fail "no ThrottledRecords in /api/status: $st"
[ "$trs" -gt 0 ] || fail "ThrottledRecords is $trs"
metrics=$(curl -s -m 5 "$FH_ENDPOINT/metrics")
printf '%s\n' "$metrics" | grep -E '^firehose_throttled_records_total\{stream="q"\} [1-9]' >/dev/null ||
    fail "/metrics: firehose_throttled_records_total not above 0: $(printf '%s\n' "$metrics" | grep throttled)"
result "RecordsPerSecond $RATE: ${dt}s of 4 producers, $acked accepted (max $max), $thr throttled calls/entries, ThrottledRecords $trs, delivered $total exactly once"
log "PASS"
