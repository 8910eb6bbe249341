#!/usr/bin/env bash
# t_kinesis_reshard: a split and a merge while records flow. No record is
# lost, closed shards end with a SHARD_END checkpoint, and a child shard
# is read only after every parent reached SHARD_END (kinesalite sends no
# ChildShards: children come from ListShards). Two more streams check the
# starting positions: LATEST skips what was there before, AT_TIMESTAMP
# starts at the given second; two more read one KPL aggregate whose second
# user record's explicit hash key is outside the shard: OutOfRangeRecords
# keep delivers it, drop counts and drops it.
source "$(dirname "$0")/lib.sh"

start_kinesalite
kin create --stream clicks --shards 2 || fail "CreateStream failed"
kin create --stream late --shards 1 || fail "CreateStream failed"
kin create --stream ts --shards 1 || fail "CreateStream failed"
kin create --stream oor --shards 2 || fail "CreateStream failed"
# Hash keys of 10+ digits: aws-kinesis-agg 4.2.8 writes its hash key table
# in JS object-key order, which puts array-index-like keys (< 2^32 - 1)
# first and so swaps the keys of records that use them.
kin putagg --stream oor --tag o --ehks 4294967296,340282366920938463463374607431768211455,4294967297 || fail "put aggregate"
kin put --stream late --tag old --first 0 --count 50 >/dev/null || fail "put"
kin put --stream ts --tag before --first 0 --count 50 >/dev/null || fail "put"
sleep 1.2
tstart=$(( $(date +%s) + 1 ))
while [ "$(date +%s)" -lt "$tstart" ]; do sleep 0.1; done
sleep 0.2
kin put --stream ts --tag after --first 0 --count 50 >/dev/null || fail "put"
port=$(free_port)
out=$T_TMP/out
cfg=$T_TMP/cfg.json
cat >"$cfg" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "Endpoints": { "Kinesis": "$KIN_ENDPOINT" }, "WorkerId": "w-reshard" },
  "DeliveryStreams": [ $(kinesis_stream from-kinesis clicks "$out" TRIM_HORIZON),
    $(kinesis_stream from-late late "$T_TMP/out-late" LATEST),
    $(kinesis_stream oor-keep oor "$T_TMP/out-keep" TRIM_HORIZON),
    $(kinesis_stream oor-drop oor "$T_TMP/out-drop" TRIM_HORIZON | sed 's/"StartingPosition"/"OutOfRangeRecords": "drop", "StartingPosition"/'),
    $(kinesis_stream from-ts ts "$T_TMP/out-ts" AT_TIMESTAMP | sed "s/\"StartingPosition\": \"AT_TIMESTAMP\",/\"StartingPosition\": \"AT_TIMESTAMP\", \"StartingPositionTimestamp\": $tstart,/") ] }
JSON
start_firehosed "$cfg" "$port"
late_reading() { grep -q "kinesis:from-late\] shard shardId-000000000000: reading from LATEST" "$FH_LOG"; }
wait_for 15 late_reading || fail "the LATEST stream's reader did not start"
sleep 1
kin put --stream late --tag new --first 0 --count 50 >/dev/null || fail "put"
# A record of 1 MiB less its partition key: above Firehose's 1,000 KiB,
# within Kinesis' limit, so it must come through.
kin putraw --stream late --id big-0000000 --size 1048573 || fail "put of a 1 MiB record"
sent=$T_TMP/sent
for i in 0 1 2 3 4 5 6 7 8; do
    if [ $((i % 2)) = 0 ]; then kpl=""; else kpl="--kpl 10"; fi
    kin put --stream clicks --tag r$i --first 0 --count 300 $kpl --sent "$sent" >/dev/null || fail "put $i"
    case $i in
    2) kin split --stream clicks --shard shardId-000000000000 || fail "SplitShard"
       log "split shard 0 into 2 and 3" ;;
    5) kin merge --stream clicks --shard shardId-000000000003 --adjacent shardId-000000000001 || fail "MergeShards"
       log "merged shards 3 and 1 into 4" ;;
    esac
    sleep 0.5
done
want=$(sort -u "$sent" | wc -l)
count_unique() { delivered_ids "$out" | sort -u | wc -l; }
got_all() { [ "$(count_unique)" -ge "$want" ]; }
wait_for 60 got_all || fail "delivered $(count_unique) of $want"
missing=$(comm -23 <(sort -u "$sent") <(delivered_ids "$out" | sort -u) | wc -l)
assert_eq 0 "$missing" "records lost"

leases=$T_TMP/state/from-kinesis/kinesis-leases.json
ended() { grep -A3 "\"leaseKey\": \"shardId-00000000000$1\"" "$leases" | grep -q '"checkpoint": "SHARD_END"'; }
all_ended() { ended 0 && ended 1 && ended 3; }
wait_for 20 all_ended || { cat "$leases" >&2; fail "shards 0, 1, 3 do not all show SHARD_END"; }
"$PY" - "$leases" <<'PYEOF' || fail "childShardIds of the finished shards"
import json, sys
l = {x["leaseKey"]: x for x in json.load(open(sys.argv[1]))["leases"]}
k = lambda n: "shardId-%012d" % n
assert sorted(l[k(0)]["childShardIds"]) == [k(2), k(3)], l[k(0)]
assert l[k(1)]["childShardIds"] == [k(4)] and l[k(3)]["childShardIds"] == [k(4)], l
assert sorted(l[k(4)]["parentShardId"]) == [k(1), k(3)], l[k(4)]
PYEOF
# Parents before children, from the log: a child's reader starts after
# each parent's SHARD_END.
line_of() { grep -n "kinesis:from-kinesis\] $1" "$FH_LOG" | head -n1 | cut -d: -f1; }
for pair in "2:0" "3:0" "4:3" "4:1"; do
    child=shardId-00000000000${pair%%:*}; parent=shardId-00000000000${pair##*:}
    start=$(line_of "shard $child: reading from")
    end=$(line_of "shard $parent finished: checkpoint SHARD_END")
    [ -n "$start" ] && [ -n "$end" ] || fail "no log of $parent's end or $child's start"
    [ "$end" -lt "$start" ] || fail "$child was read (log line $start) before $parent ended (line $end)"
done
# Starting positions.
got_late() { [ "$(delivered_ids "$T_TMP/out-late" | sort -u | wc -l)" -ge 50 ]; }
wait_for 30 got_late || fail "LATEST stream delivered $(delivered_ids "$T_TMP/out-late" | wc -l) of 50"
assert_eq 0 "$(delivered_ids "$T_TMP/out-late" | grep -c '^old-')" "LATEST: records from before the start"
assert_eq 50 "$(delivered_ids "$T_TMP/out-late" | grep -c '^new-')" "LATEST: records put after"
got_big() { delivered_ids "$T_TMP/out-late" | grep -q '^big-0000000$'; }
wait_for 20 got_big || fail "the 1 MiB record was not delivered"
got_ts() { [ "$(delivered_ids "$T_TMP/out-ts" | sort -u | wc -l)" -ge 50 ]; }
wait_for 30 got_ts || fail "AT_TIMESTAMP stream delivered $(delivered_ids "$T_TMP/out-ts" | wc -l) of 50"
assert_eq 0 "$(delivered_ids "$T_TMP/out-ts" | grep -c '^before-')" "AT_TIMESTAMP: records before the timestamp"
assert_eq 50 "$(delivered_ids "$T_TMP/out-ts" | grep -c '^after-')" "AT_TIMESTAMP: records after it"
# OutOfRangeRecords.
got_oor() { [ "$(delivered_ids "$T_TMP/out-keep" | wc -l)" -ge 3 ] && [ "$(delivered_ids "$T_TMP/out-drop" | wc -l)" -ge 2 ]; }
wait_for 20 got_oor || fail "out-of-range streams: keep $(delivered_ids "$T_TMP/out-keep" | wc -l), drop $(delivered_ids "$T_TMP/out-drop" | wc -l)"
assert_eq "o-0000000 o-0000001 o-0000002" "$(delivered_ids "$T_TMP/out-keep" | sort | paste -sd' ')" "OutOfRangeRecords keep"
assert_eq "o-0000000 o-0000002" "$(delivered_ids "$T_TMP/out-drop" | sort | paste -sd' ')" "OutOfRangeRecords drop"
assert_contains 'firehose_kinesis_out_of_range_dropped_total{stream="oor-drop"} 1' "$(curl -s "$FH_ENDPOINT/metrics")" "dropped counter"
total=$(delivered_ids "$out" | wc -l)
result "split + merge, $want records, $((total - want)) re-delivered, parents before children; LATEST and AT_TIMESTAMP starts, OutOfRangeRecords keep/drop"
