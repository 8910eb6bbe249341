#!/usr/bin/env bash
# t_kinesis_outage: the DynamoDB lease store goes away while records flow.
# One firehosed reads a 2-shard kinesalite stream with its leases in
# dynalite (FailoverTimeMillis 3000); dynalite is frozen (kill -STOP: its
# connections hang, the nastier case than a refused connect) for 15 s
# while ~200 records/s are put; then, once both leases are back, dynalite
# is killed and restarted 6 s later on the same port and LevelDB
# directory (--path). Checked: the lease table is sampled every 0.5 s and
# no shard's checkpoint ever goes back; the worker holds both leases again
# after each outage and reading resumes; every record put is delivered at
# least once.
source "$(dirname "$0")/lib.sh"

FAILOVER=3000
OUTAGE=15
DOWN=6
start_kinesalite
start_dynalite "$T_TMP/ddb"
kin create --stream clicks --shards 2 || fail "CreateStream failed"
sent=$T_TMP/sent
kin put --stream clicks --tag a --first 0 --count 1000 --sent "$sent" >/dev/null || fail "put"

port=$(free_port)
ddb_lease_config "$T_TMP/cfg.json" "$port" 1 "$FAILOVER"
start_firehosed "$T_TMP/cfg.json" "$port"; pid=$FH_PID

held() { curl -s -m 2 "http://127.0.0.1:$port/api/status" | jget '.DeliveryStreams[0].Kinesis.LeasesHeld' 2>/dev/null || echo 0; }
n_ids() { delivered_ids "$T_TMP/out1" | sort -u | wc -l; }
both() { [ "$(held)" = 2 ]; }
wait_for 30 both || fail "w1 holds $(held) of 2 leases"
got_1000() { [ "$(n_ids)" -ge 1000 ]; }
wait_for 30 got_1000 || fail "delivered $(n_ids) of 1000 before the outage"

# The lease table every 0.5 s: "<unix ms> <phase> <shard> <checkpoint>
# <sub>" per lease. A scan of a frozen dynalite times out: no line.
samples=$T_TMP/samples
phase=$T_TMP/phase
echo before >"$phase"
sampler() {
    while :; do
        "$PY" - "$DDB_ENDPOINT" "$(cat "$phase")" <<'PYEOF' >>"$samples" 2>/dev/null
import json, sys, time, urllib.request
req = urllib.request.Request(sys.argv[1], data=b'{"TableName":"leases","ConsistentRead":true}',
    headers={"X-Amz-Target": "DynamoDB_20120810.Scan",
             "Content-Type": "application/x-amz-json-1.0",
             "X-Amz-Date": "20200101T000000Z",
             "Authorization": "AWS4-HMAC-SHA256 Credential=k/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
items = json.load(urllib.request.urlopen(req, timeout=1))["Items"]
now = int(time.time() * 1000)
for it in items:
    print(now, sys.argv[2], it["leaseKey"]["S"], it["checkpoint"]["S"],
          it.get("checkpointSubSequenceNumber", {"N": "0"})["N"])
PYEOF
        sleep 0.5
    done
}
sampler & spid=$!; track_pid "$spid"
kin rate --stream clicks --tag r --rate 200 --seconds $((OUTAGE + DOWN + 14)) --sent "$sent" >/dev/null &
rpid=$!; track_pid "$rpid"
sleep 4

log "dynalite frozen (kill -STOP) for ${OUTAGE}s"
kill -STOP "$DDB_PID"
# Scans started before the freeze may still answer: label the samples
# "during" only once those are over (1 s timeout).
sleep 1.5
echo during >"$phase"
sleep $((OUTAGE - 3))
held_during=$(held)
# Likewise a scan started just before the thaw is answered after it.
echo after >"$phase"
sleep 1.5
kill -CONT "$DDB_PID"
log "dynalite back; w1 held $held_during leases at the end of the outage"
t0=$(date +%s%N)
wait_for 30 both || fail "w1 holds $(held) of 2 leases 30 s after dynalite returned"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "both leases held again ${ms} ms after dynalite returned"

log "dynalite killed, restarted in ${DOWN}s on the same port and data"
echo down >"$phase"
kill -KILL "$DDB_PID"; wait "$DDB_PID" 2>/dev/null
sleep "$DOWN"
echo restarted >"$phase"
start_dynalite "$T_TMP/ddb"
t0=$(date +%s%N)
wait_for 30 both || fail "w1 holds $(held) of 2 leases 30 s after dynalite restarted"
ms2=$(( ($(date +%s%N) - t0) / 1000000 ))
log "both leases held again ${ms2} ms after the restart"
wait "$rpid" || fail "kin rate failed"
want=$(sort -u "$sent" | wc -l)
got_all() { [ "$(n_ids)" -ge "$want" ]; }
wait_for 40 got_all || fail "delivered $(n_ids) of $want after the outage"
# One checkpoint pass after the last delivery, then the last samples.
sleep 3
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null

# Checkpoints never go back, also when dynalite, thawed, runs the writes
# queued while it was frozen; no scan answered while it was frozen (it
# really was); every shard was checkpointed after the outage.
"$PY" - "$samples" <<'PYEOF' || fail "lease table samples"
import sys
def key(cp, sub):
    # KCL order: sentinels below every sequence number.
    order = {"AT_TIMESTAMP": -3, "TRIM_HORIZON": -2, "LATEST": -1}
    if cp.isdigit():
        return (1, int(cp), int(sub))
    return (0, order.get(cp, 9), int(sub)) if cp != "SHARD_END" else (2, 0, 0)
last, after = {}, {}
n = 0
for line in open(sys.argv[1]):
    ms, phase, shard, cp, sub = line.split()
    n += 1
    k = key(cp, sub)
    if shard in last:
        assert k >= last[shard][0], f"{shard}: checkpoint went back from {last[shard][1]} to {cp}/{sub} ({phase})"
    assert phase != "during", f"dynalite answered while frozen: {line}"
    last[shard] = (k, f"{cp}/{sub}")
    if phase == "restarted":
        after[shard] = cp
assert n > 10, f"only {n} samples"
assert len(after) == 2 and all(c.isdigit() for c in after.values()), f"after the outages: {after}"
print(f"{n} samples, checkpoints monotonic")
PYEOF
delivered=$(delivered_ids "$T_TMP/out1" | wc -l)
missing=$(comm -23 <(sort -u "$sent") <(delivered_ids "$T_TMP/out1" | sort -u) | wc -l)
dups=$((delivered - (want - missing)))
result "$(printf 'lease_outage put=%s delivered=%s lost=%s duplicates=%s (held %s leases at the end of a %ss freeze, both back %s ms after it and %s ms after a %ss kill+restart)' \
    "$want" "$delivered" "$missing" "$dups" "$held_during" "$OUTAGE" "$ms" "$ms2" "$DOWN")"
assert_eq 0 "$missing" "records put but never delivered"
grep -q 'AddressSanitizer\|runtime error' "$T_TMP"/*.log 2>/dev/null && fail "sanitizer report in the logs"
stop_pid "$pid" 20 || fail "firehosed did not stop cleanly"
