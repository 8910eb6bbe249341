#!/usr/bin/env bash
# t_local: awscli v2 put-record / put-record-batch -> local directory
# destination; every object one gzip member with the Firehose key layout,
# the records delivered byte for byte, in order, exactly once.
# List/DescribeDeliveryStream; malformed requests get the right 400s and
# ingest nothing.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

port=$(free_port)
out=$T_TMP/out
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "http://127.0.0.1:1" 1073741824 \
    "[ $(local_stream local1 "$out"), $(local_stream local2 "$T_TMP/out2"), $(local_stream sized "$T_TMP/out3" 1 900) ]"
start_firehosed "$T_TMP/cfg.json" "$port"

sent=$T_TMP/cli.sent
: >"$sent"
n=0
# put-record (3 calls), each one record.
for i in 0 1 2; do
    gen_records cli $n 1 "$sent" "$T_TMP/one.json"
    data=$(jget '[0].Data' <"$T_TMP/one.json")
    r=$(aws_fh put-record --delivery-stream-name local1 --record "{\"Data\":\"$data\"}" 2>&1) ||
        fail "aws firehose put-record failed: $r"
    rid=$(printf '%s' "$r" | jget '.RecordId') || fail "put-record: no RecordId in: $r"
    [ -n "$rid" ] || fail "put-record: empty RecordId"
    n=$((n + 1))
done
# put-record-batch: 3 calls x 100 records (JSON --records from a file).
for b in 0 1 2; do
    gen_records cli $n 100 "$sent" "$T_TMP/batch.json"
    r=$(aws_fh put-record-batch --delivery-stream-name local1 --records "file://$T_TMP/batch.json" 2>&1) ||
        fail "aws firehose put-record-batch failed: $r"
    assert_eq 0 "$(printf '%s' "$r" | jget '.FailedPutCount')" "put-record-batch FailedPutCount ($r)"
    assert_eq 100 "$(printf '%s' "$r" | jget '.RequestResponses|length')" "put-record-batch RequestResponses length"
    nid=$(printf '%s' "$r" | "$PY" -c 'import json,sys; print(len({e["RecordId"] for e in json.load(sys.stdin)["RequestResponses"] if e.get("RecordId")}))')
    assert_eq 100 "$nid" "distinct RecordIds in put-record-batch response"
    n=$((n + 100))
done
log "sent $n records with awscli"

# ---- control plane
r=$(aws_fh list-delivery-streams 2>&1) || fail "list-delivery-streams: $r"
assert_eq '["local1", "local2", "sized"]' "$(printf '%s' "$r" | jget '.DeliveryStreamNames')" "ListDeliveryStreams names"
assert_eq false "$(printf '%s' "$r" | jget '.HasMoreDeliveryStreams')" "ListDeliveryStreams HasMore"
r=$(aws_fh list-delivery-streams --limit 1 2>&1) || fail "list-delivery-streams --limit 1: $r"
assert_eq '["local1"]' "$(printf '%s' "$r" | jget '.DeliveryStreamNames')" "ListDeliveryStreams Limit 1"
assert_eq true "$(printf '%s' "$r" | jget '.HasMoreDeliveryStreams')" "ListDeliveryStreams Limit 1 HasMore"
r=$(aws_fh list-delivery-streams --exclusive-start-delivery-stream-name local1 2>&1) || fail "list-delivery-streams: $r"
assert_eq '["local2", "sized"]' "$(printf '%s' "$r" | jget '.DeliveryStreamNames')" "ListDeliveryStreams ExclusiveStart"

r=$(aws_fh describe-delivery-stream --delivery-stream-name local1 2>&1) || fail "describe-delivery-stream: $r"
d=$(printf '%s' "$r" | jget '.DeliveryStreamDescription') || fail "no DeliveryStreamDescription: $r"
assert_eq local1 "$(printf '%s' "$d" | jget '.DeliveryStreamName')" "Describe name"
assert_eq ACTIVE "$(printf '%s' "$d" | jget '.DeliveryStreamStatus')" "Describe status"
assert_eq DirectPut "$(printf '%s' "$d" | jget '.DeliveryStreamType')" "Describe type"
assert_match '^arn:aws:firehose:us-east-1:[0-9]{12}:deliverystream/local1$' "$(printf '%s' "$d" | jget '.DeliveryStreamARN')" "Describe ARN"
assert_match '^[0-9]+$' "$(printf '%s' "$d" | jget '.VersionId')" "Describe VersionId"
assert_eq 1 "$(printf '%s' "$d" | jget '.Destinations|length')" "Describe Destinations"
assert_eq false "$(printf '%s' "$d" | jget '.HasMoreDestinations')" "Describe HasMoreDestinations"
r=$(aws_fh describe-delivery-stream --delivery-stream-name nosuch 2>&1) && fail "describe of an unknown stream succeeded: $r"
assert_contains ResourceNotFoundException "$r" "describe of an unknown stream"

# ---- malformed requests (curl): right status and __type, nothing ingested
badrec=$(printf '{bad-0000000:3:xyz}\n' | base64 -w0)
fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": {"Data": '
assert_eq 400 "$HTTP_CODE" "truncated JSON: HTTP status ($BODY)"
assert_eq SerializationException "$ERR_TYPE" "truncated JSON: __type ($BODY)"
assert_header Content-Type 'application/x-amz-json-1\.1' "$HDRS" "truncated JSON"
assert_header x-amzn-RequestId '[^ ]' "$HDRS" "truncated JSON"

fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": {"Data": "!!!not*base64$$"}}'
assert_eq 400 "$HTTP_CODE" "bad base64: HTTP status ($BODY)"
assert_match '^(SerializationException|ValidationException|InvalidArgumentException)$' "$ERR_TYPE" "bad base64: __type ($BODY)"

fh_call PutRecordBatch '{"DeliveryStreamName": "local1", "Records": [{"Data": "'"$badrec"'"}, {"Data": "%%%"}]}'
assert_eq 400 "$HTTP_CODE" "bad base64 in a batch: HTTP status ($BODY)"

fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": "notanobject"}'
assert_eq 400 "$HTTP_CODE" "Record of the wrong JSON type: HTTP status ($BODY)"

fh_call PutRecord '{"DeliveryStreamName": "nosuchstream", "Record": {"Data": "'"$badrec"'"}}'
assert_eq 400 "$HTTP_CODE" "unknown stream: HTTP status ($BODY)"
assert_eq ResourceNotFoundException "$ERR_TYPE" "unknown stream: __type ($BODY)"
fh_call PutRecordBatch '{"DeliveryStreamName": "nosuchstream", "Records": [{"Data": "'"$badrec"'"}]}'
assert_eq ResourceNotFoundException "$ERR_TYPE" "unknown stream (batch): __type ($BODY)"

fh_call NoSuchOperation '{}'
assert_eq 400 "$HTTP_CODE" "unknown target: HTTP status ($BODY)"
assert_eq UnknownOperationException "$ERR_TYPE" "unknown target: __type ($BODY)"

recs=$("$PY" -c 'import json,sys; print(json.dumps([{"Data": sys.argv[1]}] * 501))' "$badrec")
fh_call PutRecordBatch '{"DeliveryStreamName": "local1", "Records": '"$recs"'}'
assert_eq 400 "$HTTP_CODE" "501 records: HTTP status ($BODY)"
assert_match '^(ValidationException|InvalidArgumentException)$' "$ERR_TYPE" "501 records: __type ($BODY)"

fh_call PutRecordBatch '{"DeliveryStreamName": "local1", "Records": []}'
assert_eq 400 "$HTTP_CODE" "0 records: HTTP status ($BODY)"

fh_call PutRecord '{"Record": {"Data": "'"$badrec"'"}}'
assert_eq 400 "$HTTP_CODE" "missing DeliveryStreamName: HTTP status ($BODY)"

# a good request through curl: 200, JSON 1.1 content type, a request id
gen_records cli $n 1 "$sent" "$T_TMP/one.json"
fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": '"$(jget '[0]' <"$T_TMP/one.json")"'}'
assert_eq 200 "$HTTP_CODE" "PutRecord (curl): HTTP status ($BODY)"
assert_header Content-Type 'application/x-amz-json-1\.1' "$HDRS" "PutRecord (curl)"
assert_header x-amzn-RequestId '[^ ]' "$HDRS" "PutRecord (curl)"
assert_eq false "$(printf '%s' "$BODY" | jget '.Encrypted')" "PutRecord (curl): Encrypted"
n=$((n + 1))

# ---- size limits (decoded Data: 0..1,024,000 bytes; batch <= 4 MiB)
# big_record TAG SEQ TOTAL_BYTES -> base64 of one framed record of exactly TOTAL_BYTES
big_record() {
    "$PY" - "$@" <<'PYEOF'
import base64, sys
tag, seq, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
head = b"{%s-%07d:" % (tag.encode(), seq)
n = total - len(head) - 2
while len(head) + len(str(n)) + 1 + n + 2 != total:
    n -= 1
b = head + str(n).encode() + b":" + (b"z" * n) + b"}\n"
assert len(b) == total
sys.stdout.write(base64.b64encode(b).decode())
PYEOF
}
big=$(big_record big 0 1024000)
fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": {"Data": "'"$big"'"}}'
assert_eq 200 "$HTTP_CODE" "PutRecord with 1,024,000 bytes of Data ($BODY)"
printf '%s' "$big" | base64 -d >"$T_TMP/big.sent"
big=$(big_record toobig 0 1024001)
fh_call PutRecord '{"DeliveryStreamName": "local1", "Record": {"Data": "'"$big"'"}}'
assert_eq 400 "$HTTP_CODE" "PutRecord with 1,024,001 bytes of Data ($BODY)"
assert_match '^(ValidationException|InvalidArgumentException)$' "$ERR_TYPE" "PutRecord with 1,024,001 bytes: __type ($BODY)"
big=$(big_record toobig 1 1000000)
fh_call PutRecordBatch '{"DeliveryStreamName": "local1", "Records": [{"Data": "'"$big"'"}, {"Data": "'"$big"'"}, {"Data": "'"$big"'"}, {"Data": "'"$big"'"}, {"Data": "'"$big"'"}]}'
assert_eq 400 "$HTTP_CODE" "PutRecordBatch of 5 x 1,000,000 bytes (> 4 MiB) ($BODY)"
assert_match '^(ValidationException|InvalidArgumentException)$' "$ERR_TYPE" "PutRecordBatch > 4 MiB: __type ($BODY)"
# An empty record is legal (and adds no bytes to the object).
gen_records cli $n 1 "$sent" "$T_TMP/one.json"
data=$(jget '[0].Data' <"$T_TMP/one.json")
fh_call PutRecordBatch '{"DeliveryStreamName": "local1", "Records": [{"Data": ""}, {"Data": "'"$data"'"}]}'
assert_eq 200 "$HTTP_CODE" "PutRecordBatch with an empty record ($BODY)"
assert_eq 0 "$(printf '%s' "$BODY" | jget '.FailedPutCount')" "PutRecordBatch with an empty record: FailedPutCount ($BODY)"
n=$((n + 1))

# still healthy after the bad input
assert_eq 200 "$(health_code "$port")" "/health after malformed requests"

# ---- delivery: wait (bounded) until all $n records are there, then check
keyre=$(key_re "$HOUR_RE" local1)
vargs=(--local "$out" --key-re "$keyre" --sent "$sent" --sent "$T_TMP/big.sent" --no-dups --expect-count $((n + 1)))
wait_for 20 verify "${vargs[@]}" --quiet >/dev/null 2>&1
res=$(verify "${vargs[@]}") || fail "local delivery check failed: $res"
log "delivered: $res"
[ -z "$(ls -A "$T_TMP/out2" 2>/dev/null)" ] || fail "local2 got objects but nothing was sent to it"
# The key's hour directories are the (UTC) arrival hour.
# ---- size-triggered flush: SizeInMBs 1, IntervalInSeconds 900, 2.6 MB sent
r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream sized --tag sz --count 260 --batch 20 --min 10000 --max 10000 2>&1) ||
    fail "send to the stream 'sized': $r"
vs=(--local "$T_TMP/out3" --key-re "$(key_re "$HOUR_RE" sized)" --no-dups)
wait_for 15 eval '[ "$(verify "${vs[@]}" 2>/dev/null | jget .objects)" -ge 2 ]'
sleep 2
r=$(verify "${vs[@]}") || fail "size-triggered objects: $r"
log "SizeInMBs 1 / IntervalInSeconds 900, 2.6 MB sent: $r"
assert_eq 2 "$(printf '%s' "$r" | jget '.objects')" "objects flushed by size (1 MiB each) before the 900 s interval"
for sz in $(printf '%s' "$r" | jget '.sizes' | tr -d '[],'); do
    [ "$sz" -ge $((1048576 - 10100)) ] && [ "$sz" -le $((1048576 + 10100)) ] ||
        fail "a size-flushed object holds $sz bytes; expected 1 MiB give or take one record"
done

first=$(cd "$out" && find . -type f | head -n1)
assert_match "^\./$(date -u +%Y)/" "$first" "key prefix year (UTC)"
log "PASS"
