#!/usr/bin/env bash
# t_kinesis_reshard: a split and a merge while records flow. No record is
# lost, closed shards end with a SHARD_END checkpoint, and a child shard
# is read only after every parent reached SHARD_END (kinesalite sends no
# ChildShards: children come from ListShards).
source "$(dirname "$0")/lib.sh"

start_kinesalite
kin create --stream clicks --shards 2 || fail "CreateStream failed"
port=$(free_port)
out=$T_TMP/out
cfg=$T_TMP/cfg.json
cat >"$cfg" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "Endpoints": { "Kinesis": "$KIN_ENDPOINT" }, "WorkerId": "w-reshard" },
  "DeliveryStreams": [ $(kinesis_stream from-kinesis clicks "$out" TRIM_HORIZON) ] }
JSON
start_firehosed "$cfg" "$port"
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
# Parents before children, from the log: a child's reader starts after
# each parent's SHARD_END.
line_of() { grep -n "$1" "$FH_LOG" | head -n1 | cut -d: -f1; }
for pair in "2:0" "3:0" "4:3" "4:1"; do
    child=shardId-00000000000${pair%%:*}; parent=shardId-00000000000${pair##*:}
    start=$(line_of "shard $child: reading from")
    end=$(line_of "shard $parent finished: checkpoint SHARD_END")
    [ -n "$start" ] && [ -n "$end" ] || fail "no log of $parent's end or $child's start"
    [ "$end" -lt "$start" ] || fail "$child was read (log line $start) before $parent ended (line $end)"
done
total=$(delivered_ids "$out" | wc -l)
result "split + merge, $want records, $((total - want)) re-delivered, parents before children"
