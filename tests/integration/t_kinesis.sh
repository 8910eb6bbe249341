#!/usr/bin/env bash
# t_kinesis: a 4-shard kinesalite stream with plain and KPL-aggregated
# records into a local directory through the local lease store; every
# record delivered once with its Kinesis metadata (a Lua transform tags
# each with record.kinesis); a record with the KPL magic but a bad MD5 is
# delivered raw and counted; PutRecord is refused; /metrics and the status
# show the leases; a restart resumes from the checkpoint (no record of
# before the restart comes again); after kill -9 nothing is lost.
source "$(dirname "$0")/lib.sh"

start_kinesalite
kin create --stream clicks --shards 4 || fail "CreateStream failed"
sent=$T_TMP/sent
kin put --stream clicks --tag p --first 0 --count 2000 --sent "$sent" >/dev/null || fail "put plain"
kin put --stream clicks --tag k --first 0 --count 2000 --kpl 50 --sent "$sent" >/dev/null || fail "put KPL"
# KPL magic, then "kplbad", then 16 bytes that are not its MD5.
kin putraw --stream clicks --hex "f3899ac2$(printf ' kplbad 0123456789abcdef0123456\n' | od -An -tx1 | tr -d ' \n')" ||
    fail "put malformed KPL"

xdir=$T_TMP/transforms
mkdir -p "$xdir"
cat >"$xdir/tag.lua" <<'LUA'
-- Appends the Kinesis metadata to each line: id shard subseq pk seq.
function transform(record)
  local k = record.kinesis
  if k == nil then return "ProcessingFailed", "no kinesis metadata" end
  local line = record.data:gsub("\n$", "")
  return "Ok", string.format("%s %s %d %s %s %d\n", line, k.shardId,
    k.subsequenceNumber, k.partitionKey, k.sequenceNumber,
    k.approximateArrivalTimestamp)
end
LUA
port=$(free_port)
out=$T_TMP/out
cfg=$T_TMP/cfg.json
cat >"$cfg" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state",
               "TransformsDirectory": "$xdir",
               "Endpoints": { "Kinesis": "$KIN_ENDPOINT" }, "WorkerId": "w-local" },
  "DeliveryStreams": [ $(kinesis_stream from-kinesis clicks "$out" TRIM_HORIZON tag.lua) ] }
JSON
"$FIREHOSED" --check-config "$cfg" >/dev/null 2>&1 || { "$FIREHOSED" --check-config "$cfg"; fail "config rejected"; }
start_firehosed "$cfg" "$port"

# Record ids (the malformed KPL record has none).
ids() { delivered_ids "$out" | LC_ALL=C grep -a '^[a-z]-[0-9]'; }
count_unique() { ids | sort -u | wc -l; }
all_4000() { [ "$(count_unique)" -ge 4000 ]; }
wait_for 60 all_4000 || fail "delivered $(count_unique) of 4000 records"
n=$(ids | wc -l)
assert_eq 4000 "$n" "records delivered (duplicates included)"
diff <(sort -u "$sent") <(ids | sort -u) >/dev/null || fail "delivered ids differ from the ids put"
bad=$(find "$out" -type f ! -path '*/err/*' -print0 | xargs -0 cat | LC_ALL=C grep -ac ' kplbad ')
assert_eq 1 "$bad" "malformed KPL record delivered raw, once"

# Metadata: shard ids of all 4 shards; KPL records carry sub-sequence
# numbers 0..49, plain ones 0.
lines=$(find "$out" -type f ! -path '*/err/*' -print0 | xargs -0 cat | LC_ALL=C grep -a '^[a-z]-[0-9]')
nshards=$(printf '%s\n' "$lines" | awk '{print $2}' | sort -u | grep -c '^shardId-00000000000[0-3]$')
assert_eq 4 "$nshards" "distinct shardIds in record.kinesis"
maxsub=$(printf '%s\n' "$lines" | awk '$1 ~ /^k-/ {print $3}' | sort -n | tail -1)
assert_eq 49 "$maxsub" "largest KPL subsequenceNumber"
plainsub=$(printf '%s\n' "$lines" | awk '$1 ~ /^p-/ && $3 != 0' | wc -l)
assert_eq 0 "$plainsub" "plain records with a non-zero subsequenceNumber"
printf '%s\n' "$lines" | awk '$4 !~ /^pk-[0-9a-f]+$/ || $5 !~ /^[0-9]+$/ || length($5) < 20 || $6 < 1600000000000 {bad++} END {exit bad > 0}' ||
    fail "partitionKey, sequenceNumber or approximateArrivalTimestamp malformed"

# PutRecord to a Kinesis-sourced stream: refused as in Firehose.
fh_call PutRecord '{"DeliveryStreamName":"from-kinesis","Record":{"Data":"eA=="}}'
assert_eq 400 "$HTTP_CODE" "PutRecord status"
assert_eq InvalidArgumentException "$ERR_TYPE" "PutRecord error"

fh_call DescribeDeliveryStream '{"DeliveryStreamName":"from-kinesis"}'
assert_eq "arn:aws:kinesis:us-east-1:000000000000:stream/clicks" \
    "$(printf '%s' "$BODY" | jget '.DeliveryStreamDescription.Source.KinesisStreamSourceDescription.KinesisStreamARN')" \
    "Describe: Source.KinesisStreamSourceDescription"
assert_eq KinesisStreamAsSource "$(printf '%s' "$BODY" | jget '.DeliveryStreamDescription.DeliveryStreamType')" \
    "Describe: DeliveryStreamType"

# Status: 4 leases, checkpoints written.
has_checkpoints() {
    st=$(curl -s "$FH_ENDPOINT/api/status")
    held=$(printf '%s' "$st" | jget '.DeliveryStreams[0].Kinesis.LeasesHeld')
    cps=$(printf '%s' "$st" | jget '.DeliveryStreams[0].Kinesis.Shards' | grep -o '"Checkpoint": *"[0-9]*"' | wc -l)
    [ "$held" = 4 ] && [ "$cps" = 4 ]
}
wait_for 10 has_checkpoints || fail "status: leases $held, numeric checkpoints $cps: $st"
assert_eq 1 "$(printf '%s' "$st" | jget '.DeliveryStreams[0].Kinesis.KplDecodeFailures')" "KplDecodeFailures"
m=$(curl -s "$FH_ENDPOINT/metrics")
assert_contains 'firehose_kinesis_leases_owned{stream="from-kinesis"} 4' "$m" "leases gauge in /metrics"
assert_contains 'firehose_kinesis_kpl_decode_failures_total{stream="from-kinesis"} 1' "$m" "KPL failures in /metrics"
if [ -x /usr/bin/chromium ]; then
    node "$IT_DIR/js/dash_leases.js" "$FH_ENDPOINT" from-kinesis w-local 4 "$T_TMP/chromium" >&2 ||
        fail "dashboard leases line"
fi

# Restart: stop, put more, start again; only the new records come.
stop_pid "$FH_PID" 20 || fail "firehosed did not stop cleanly"
grep -q '"checkpoint": "[0-9]' "$T_TMP/state/from-kinesis/kinesis-leases.json" || fail "no checkpoint in the lease file"
kin put --stream clicks --tag r --first 0 --count 1000 --kpl 10 --sent "$sent" >/dev/null || fail "put after stop"
start_firehosed "$cfg" "$port"
all_5000() { [ "$(count_unique)" -ge 5000 ]; }
wait_for 60 all_5000 || fail "after restart delivered $(count_unique) of 5000"
sleep 2
total=$(ids | wc -l)
assert_eq 5000 "$total" "records delivered in all (a re-read would duplicate)"
# kill -9 while records flow, restart: everything at least once.
kin put --stream clicks --tag s --first 0 --count 2000 --kpl 20 --sent "$sent" >/dev/null || fail "put"
sleep 1
kill9 "$FH_PID"
kin put --stream clicks --tag t --first 0 --count 500 --sent "$sent" >/dev/null || fail "put"
start_firehosed "$cfg" "$port"
all_7500() { [ "$(count_unique)" -ge 7500 ]; }
wait_for 60 all_7500 || fail "after kill -9 delivered $(count_unique) of 7500"
missing=$(comm -23 <(sort -u "$sent") <(ids | sort -u) | wc -l)
assert_eq 0 "$missing" "records lost over kill -9"
result "7500 records (plain and KPL), 4 shards, restart resumed, kill -9: $(( $(ids | wc -l) - 7500 )) re-delivered, 0 lost"
