#!/usr/bin/env bash
# t_backpressure: S3 endpoint DOWN (nothing listening), MaxSpoolBytesPerStream
# 1 MiB. Producers keep sending until PutRecordBatch entries come back
# ServiceUnavailableException "Slow down." and PutRecord gets HTTP 503 with
# __type ServiceUnavailableException; RSS stays bounded; then s3rver comes
# up on that port and every acknowledged record is delivered; afterwards the
# stream accepts records again.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RSS_LIMIT_KB=${RSS_LIMIT_KB:-204800}

s3port=$(free_port)
port=$(free_port)
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "http://127.0.0.1:$s3port" 1048576 \
    "[ $(s3_stream s3a test-bucket 'bp/' '') ]"
start_firehosed "$T_TMP/cfg.json" "$port"

: >"$T_TMP/acked"
r=$(fhjs fill --endpoint "$FH_ENDPOINT" --stream s3a --tag bp --acked "$T_TMP/acked" \
      --batch 100 --size 1024 --max-seconds 40 2>&1) || fail "fill producer failed: $r"
log "fill: $r"
thr=$(printf '%s' "$r" | jget '.throttled_entries') || fail "fill: no summary: $r"
[ "$thr" -gt 0 ] || fail "no PutRecordBatch entry was refused with ServiceUnavailableException after $(printf '%s' "$r" | jget '.bytes_acked') bytes acknowledged with a 1 MiB spool limit: $r"
assert_eq 0 "$(printf '%s' "$r" | jget '.other_failed_entries')" "entries failed with other codes than ServiceUnavailableException"
assert_eq "Slow down." "$(printf '%s' "$r" | jget '.entry_message')" "ErrorMessage of a throttled entry"
assert_eq 503 "$(printf '%s' "$r" | jget '.putrecord_status')" "PutRecord HTTP status with a full spool"
assert_eq ServiceUnavailableException "$(printf '%s' "$r" | jget '.putrecord_type')" "PutRecord error with a full spool"
bytes=$(printf '%s' "$r" | jget '.bytes_acked')
# Acknowledged bytes should be about the limit (framing and spool overhead aside).
[ "$bytes" -le $((4 * 1048576)) ] || fail "acknowledged $bytes bytes with MaxSpoolBytesPerStream 1 MiB"

# The raw wire answer (curl): 503, __type, message.
# (4 KiB: more than a 1 KiB record's room that may be left)
rec=$( (printf '{bp-curl:4096:'; head -c 4096 /dev/zero | tr '\0' x; printf '}\n') | base64 -w0)
fh_call PutRecord '{"DeliveryStreamName": "s3a", "Record": {"Data": "'"$rec"'"}}'
assert_eq 503 "$HTTP_CODE" "PutRecord (curl) HTTP status with a full spool ($BODY)"
assert_eq ServiceUnavailableException "$ERR_TYPE" "PutRecord (curl) __type ($BODY)"
assert_contains "Slow down." "$BODY" "PutRecord (curl) message"
fh_call PutRecordBatch '{"DeliveryStreamName": "s3a", "Records": [{"Data": "'"$rec"'"}, {"Data": "'"$rec"'"}]}'
if [ "$HTTP_CODE" = 200 ]; then
    assert_eq 2 "$(printf '%s' "$BODY" | jget '.FailedPutCount')" "PutRecordBatch (curl) FailedPutCount ($BODY)"
    assert_eq ServiceUnavailableException "$(printf '%s' "$BODY" | jget '.RequestResponses[1].ErrorCode')" "PutRecordBatch (curl) entry ErrorCode"
else
    assert_eq 503 "$HTTP_CODE" "PutRecordBatch (curl) HTTP status ($BODY)"
    assert_eq ServiceUnavailableException "$ERR_TYPE" "PutRecordBatch (curl) __type ($BODY)"
fi

# Memory stays bounded while producers keep pushing against the full spool.
: >"$T_TMP/load.acked"
node "$FHJS" load --endpoint "$FH_ENDPOINT" --stream s3a --tag ld --acked "$T_TMP/load.acked" \
    --concurrency 8 --batch 200 --max-seconds 20 >"$T_TMP/load.summary" 2>&1 &
lp=$!; track_pid $lp
maxrss=0
for i in $(seq 1 20); do
    rss=$(rss_kb "$FH_PID")
    [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    kill -0 "$FH_PID" 2>/dev/null || fail "firehosed died under backpressure"
    sleep 0.2
done
kill -TERM $lp; wait $lp
log "load against a full spool: $(cat "$T_TMP/load.summary")"
rss=$(rss_kb "$FH_PID"); [ "$rss" -gt "$maxrss" ] && maxrss=$rss
log "firehosed max VmRSS ${maxrss} kB (limit ${RSS_LIMIT_KB} kB), spool on disk $(du -sk "$T_TMP/state" | cut -f1) kB"
[ "$maxrss" -lt "$RSS_LIMIT_KB" ] || fail "VmRSS ${maxrss} kB >= ${RSS_LIMIT_KB} kB"
spool_kb=$(du -sk "$T_TMP/state" | cut -f1)
[ "$spool_kb" -lt 16384 ] || fail "state directory holds ${spool_kb} kB with MaxSpoolBytesPerStream 1 MiB"

# S3 comes up on the configured port: everything acknowledged is delivered.
start_s3rver "$T_TMP/s3" "$s3port" test-bucket
v=(--s3rver "$S3_DIR" --key-re "bp/$(key_re "$HOUR_RE" s3a)" --acked "$T_TMP/acked" --acked "$T_TMP/load.acked" --no-dups)
wait_for 60 verify "${v[@]}" --quiet >/dev/null 2>&1
r=$(verify "${v[@]}") || fail "after S3 came back: $r"
log "after S3 came back: $r"
result "acked $(printf '%s' "$r" | jget '.acked') (spool 1 MiB, S3 down), delivered $(printf '%s' "$r" | jget '.distinct'), max RSS $((maxrss / 1024)) MiB"

# The spool drained: the stream takes records again.
wait_for 20 fhjs send --endpoint "$FH_ENDPOINT" --stream s3a --tag after --count 10 --batch 10 >/dev/null 2>&1 ||
    fail "stream still refuses records after the backlog was delivered"
log "PASS"
