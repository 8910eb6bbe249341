#!/usr/bin/env bash
# t_kinesis_leases: two firehosed instances share a 4-shard kinesalite
# stream through a KCL lease table in dynalite (FailoverTimeMillis 3000):
# they split the shards 2/2 (+-1); after kill -9 of one, the other holds
# all 4 within 2 x failover; every record put is delivered at least once;
# the table has the KCL attributes and types; a graceful stop gives the
# leases back.
source "$(dirname "$0")/lib.sh"

FAILOVER=3000
start_kinesalite
start_dynalite
kin create --stream clicks --shards 4 || fail "CreateStream failed"
sent=$T_TMP/sent
kin put --stream clicks --tag a --first 0 --count 1000 --sent "$sent" >/dev/null || fail "put"
kin put --stream clicks --tag b --first 0 --count 1000 --kpl 20 --sent "$sent" >/dev/null || fail "put KPL"

p1=$(free_port); p2=$(free_port)
ddb_lease_config "$T_TMP/cfg1.json" "$p1" 1 "$FAILOVER"
ddb_lease_config "$T_TMP/cfg2.json" "$p2" 2 "$FAILOVER"
start_firehosed "$T_TMP/cfg1.json" "$p1"; pid1=$FH_PID
start_firehosed "$T_TMP/cfg2.json" "$p2"; pid2=$FH_PID

held() { curl -s -m 2 "http://127.0.0.1:$1/api/status" | jget '.DeliveryStreams[0].Kinesis.LeasesHeld' 2>/dev/null || echo 0; }
balanced() {
    h1=$(held "$p1"); h2=$(held "$p2")
    [ "$((h1 + h2))" = 4 ] && [ "$h1" -ge 1 ] && [ "$h1" -le 3 ] && [ "$h2" -ge 1 ] && [ "$h2" -le 3 ]
}
wait_for 30 balanced || fail "leases not split: w1 $h1, w2 $h2"
log "split: w1 $h1, w2 $h2"
# Each instance's status shows the whole lease table, both owners in it
# (the coordinator refreshes its copy at every take, failover/3).
owners() { curl -s -m 2 "http://127.0.0.1:$1/api/status" | "$PY" -c '
import json, sys
ls = json.load(sys.stdin)["DeliveryStreams"][0]["Kinesis"]["Leases"]
print(len(ls), len({l["Owner"] for l in ls if l["Owner"]}))'; }
two_owners() { [ "$(owners "$p1")" = "4 2" ]; }
wait_for 10 two_owners || fail "w1's status lease table: $(owners "$p1") (want 4 leases, 2 owners)"
all_ids() { { delivered_ids "$T_TMP/out1"; delivered_ids "$T_TMP/out2"; } | sort -u | wc -l; }
got_2000() { [ "$(all_ids)" -ge 2000 ]; }
wait_for 60 got_2000 || fail "delivered $(all_ids) of 2000 before the kill"

# More records while w1 dies.
kin put --stream clicks --tag c --first 0 --count 500 --sent "$sent" >/dev/null || fail "put"
kill9 "$pid1"
t0=$(date +%s%N)
all_mine() { [ "$(held "$p2")" = 4 ]; }
wait_for 20 all_mine || fail "w2 holds $(held "$p2") leases 20 s after the kill"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "w2 took all 4 leases ${ms} ms after kill -9 of w1"
[ "$ms" -le $((2 * FAILOVER)) ] || fail "takeover took ${ms} ms, more than 2 x $FAILOVER"
kin put --stream clicks --tag d --first 0 --count 500 --kpl 10 --sent "$sent" >/dev/null || fail "put"
want=$(sort -u "$sent" | wc -l)
got_all() { [ "$(all_ids)" -ge "$want" ]; }
wait_for 60 got_all || fail "delivered $(all_ids) of $want"
missing=$(comm -23 <(sort -u "$sent") <({ delivered_ids "$T_TMP/out1"; delivered_ids "$T_TMP/out2"; } | sort -u) | wc -l)
assert_eq 0 "$missing" "records put but never delivered"
dups=$(( $( { delivered_ids "$T_TMP/out1"; delivered_ids "$T_TMP/out2"; } | wc -l) - want ))

# The lease table, as a KCL worker would read it.
sleep 1
"$AWS" dynamodb scan --table-name leases --endpoint-url "$DDB_ENDPOINT" --region us-east-1 \
    --output json >"$T_TMP/scan.json" || fail "scan of the lease table failed"
"$PY" - "$T_TMP/scan.json" <<'PYEOF' || fail "lease table attributes"
import json, sys
items = json.load(open(sys.argv[1]))["Items"]
assert len(items) == 4, f"{len(items)} leases"
want = {"leaseKey": "S", "leaseOwner": "S", "leaseCounter": "N", "checkpoint": "S",
        "checkpointSubSequenceNumber": "N", "ownerSwitchesSinceCheckpoint": "N",
        "startingHashKey": "S", "endingHashKey": "S"}
for it in items:
    for k, t in want.items():
        assert k in it and t in it[k], f"{it.get('leaseKey')}: {k} missing or not {t}: {it}"
    assert it["leaseOwner"]["S"] == "w2", it
    assert it["checkpoint"]["S"].isdigit(), it
    assert int(it["leaseCounter"]["N"]) > 0
print("lease table ok")
PYEOF
# A graceful stop gives the leases back (no owner), checkpoints kept.
stop_pid "$pid2" 20 || fail "w2 did not stop cleanly"
"$AWS" dynamodb scan --table-name leases --endpoint-url "$DDB_ENDPOINT" --region us-east-1 \
    --output json >"$T_TMP/scan2.json" || fail "scan of the lease table failed"
"$PY" - "$T_TMP/scan2.json" <<'PYEOF' || fail "leases after a graceful stop"
import json, sys
items = json.load(open(sys.argv[1]))["Items"]
assert len(items) == 4 and all("leaseOwner" not in it and it["checkpoint"]["S"].isdigit() for it in items), items
PYEOF
result "split 2/2, takeover ${ms} ms (failover $FAILOVER), $want records, $dups re-delivered"
