#!/usr/bin/env bash
# t_control: the control plane through the aws CLI v2. create-delivery-stream
# --cli-input-json (Extended S3 into s3rver), wait for ACTIVE, put-record-batch,
# objects land; restart firehosed: the stream is back with its VersionId and
# tags; update-destination with a stale version -> ConcurrentModification-
# Exception, with the right one -> version 2 and new keys carry "-2-";
# config-file streams can't be deleted; delete-delivery-stream delivers what
# is spooled, then the stream, its spool and its saved file are gone.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# The CLI's model wants IntervalInSeconds >= 60 (an older limit; ours is
# 0-900 as the API reference says): skip its client-side check.
printf '[default]\nparameter_validation = false\n' >"$T_TMP/aws.config"
export AWS_CONFIG_FILE=$T_TMP/aws.config
start_s3rver "$T_TMP/s3" 0 test-bucket
port=$(free_port)
state=$T_TMP/state
write_config "$T_TMP/cfg.json" "$port" "$state" "$S3_ENDPOINT" 1073741824 "[
  $(local_stream fromfile "$T_TMP/out") ]"
start_firehosed "$T_TMP/cfg.json" "$port"

cat >"$T_TMP/stream.json" <<JSON
{ "DeliveryStreamName": "made", "DeliveryStreamType": "DirectPut",
  "ExtendedS3DestinationConfiguration": {
    "RoleARN": "arn:aws:iam::123456789012:role/fh", "BucketARN": "arn:aws:s3:::test-bucket",
    "Prefix": "made/", "ErrorOutputPrefix": "err/!{firehose:error-output-type}/",
    "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 2 }, "CompressionFormat": "GZIP" },
  "Tags": [ { "Key": "team", "Value": "data" }, { "Key": "env", "Value": "test" } ] }
JSON
r=$(aws_fh create-delivery-stream --cli-input-json "file://$T_TMP/stream.json" 2>&1) ||
    fail "create-delivery-stream: $r"
assert_match ':deliverystream/made$' "$(printf '%s' "$r" | jget '.DeliveryStreamARN')" "create ARN"
r=$(aws_fh create-delivery-stream --cli-input-json "file://$T_TMP/stream.json" 2>&1) &&
    fail "a second create of 'made' succeeded: $r"
assert_contains ResourceInUseException "$r" "duplicate create"

status() { aws_fh describe-delivery-stream --delivery-stream-name "$1" 2>/dev/null |
           jget '.DeliveryStreamDescription.DeliveryStreamStatus'; }
is_active() { [ "$(status "$1")" = ACTIVE ]; }
wait_for 20 is_active made || fail "'made' did not become ACTIVE"
log "created 'made': ACTIVE"

# Data in: 2 x 100 records, then every one in s3rver under made/.
: >"$T_TMP/v1.sent"
for b in 0 1; do
    gen_records v1 $((b * 100)) 100 "$T_TMP/v1.sent" "$T_TMP/batch.json"
    r=$(aws_fh put-record-batch --delivery-stream-name made --records "file://$T_TMP/batch.json" 2>&1) ||
        fail "put-record-batch: $r"
    assert_eq 0 "$(printf '%s' "$r" | jget '.FailedPutCount')" "FailedPutCount ($r)"
done
v1=(--s3rver "$S3_DIR" --bucket test-bucket --key-re "$(key_re "made/$HOUR_RE" made)" --sent "$T_TMP/v1.sent"
    --no-dups --expect-count 200)
wait_for 30 verify "${v1[@]}" --quiet >/dev/null 2>&1
r=$(verify "${v1[@]}") || fail "version 1 delivery: $r"

# Restart: the stream comes back as it was.
d1=$(aws_fh describe-delivery-stream --delivery-stream-name made 2>&1) || fail "describe: $d1"
stop_pid "$FH_PID" 20 || fail "firehosed did not stop cleanly"
[ -f "$state/streams/made.json" ] || fail "no $state/streams/made.json"
start_firehosed "$T_TMP/cfg.json" "$port"
wait_for 20 is_active made || fail "'made' is not ACTIVE after the restart"
d2=$(aws_fh describe-delivery-stream --delivery-stream-name made 2>&1) || fail "describe: $d2"
assert_eq 1 "$(printf '%s' "$d2" | jget '.DeliveryStreamDescription.VersionId')" "VersionId after restart"
assert_eq "$(printf '%s' "$d1" | jget '.DeliveryStreamDescription.CreateTimestamp')" \
    "$(printf '%s' "$d2" | jget '.DeliveryStreamDescription.CreateTimestamp')" "CreateTimestamp after restart"
e=$(printf '%s' "$d2" | jget '.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription')
assert_eq 'made/' "$(printf '%s' "$e" | jget '.Prefix')" "Prefix after restart"
assert_eq 'arn:aws:iam::123456789012:role/fh' "$(printf '%s' "$e" | jget '.RoleARN')" "RoleARN"
r=$(aws_fh list-tags-for-delivery-stream --delivery-stream-name made 2>&1) || fail "list-tags: $r"
assert_eq '[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}]' \
    "$(printf '%s' "$r" | jget '.Tags')" "tags after restart"
r=$(aws_fh list-delivery-streams 2>&1) || fail "list-delivery-streams: $r"
assert_eq '["fromfile", "made"]' "$(printf '%s' "$r" | jget '.DeliveryStreamNames')" "list after restart"

# UpdateDestination.
r=$(aws_fh update-destination --delivery-stream-name made --current-delivery-stream-version-id 7 \
    --destination-id destinationId-000000000001 \
    --extended-s3-destination-update '{"Prefix": "v2/"}' 2>&1) && fail "stale update succeeded: $r"
assert_contains ConcurrentModificationException "$r" "stale update"
r=$(aws_fh update-destination --delivery-stream-name made --current-delivery-stream-version-id 1 \
    --destination-id destinationId-000000000001 \
    --extended-s3-destination-update '{"Prefix": "v2/"}' 2>&1) || fail "update-destination: $r"
d=$(aws_fh describe-delivery-stream --delivery-stream-name made 2>&1) || fail "describe: $d"
assert_eq 2 "$(printf '%s' "$d" | jget '.DeliveryStreamDescription.VersionId')" "VersionId after update"
e=$(printf '%s' "$d" | jget '.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription')
assert_eq 'v2/' "$(printf '%s' "$e" | jget '.Prefix')" "Prefix after update"
assert_eq GZIP "$(printf '%s' "$e" | jget '.CompressionFormat')" "merged CompressionFormat"
: >"$T_TMP/v2.sent"
gen_records v2 0 100 "$T_TMP/v2.sent" "$T_TMP/batch.json"
r=$(aws_fh put-record-batch --delivery-stream-name made --records "file://$T_TMP/batch.json" 2>&1) ||
    fail "put-record-batch: $r"
v2=(--s3rver "$S3_DIR" --bucket test-bucket
    --key-re "v2/${HOUR_RE}made-2-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-$UUID_RE\\.gz"
    --ignore-re '^made/' --sent "$T_TMP/v2.sent" --no-dups --expect-count 100)
wait_for 30 verify "${v2[@]}" --quiet >/dev/null 2>&1
r=$(verify "${v2[@]}") || fail "version 2 delivery (keys with -2-): $r"

# The config file's stream is protected.
r=$(aws_fh delete-delivery-stream --delivery-stream-name fromfile 2>&1) && fail "deleted a config-file stream"
assert_contains InvalidArgumentException "$r" "delete of a config-file stream"
assert_contains "config file" "$r" "delete of a config-file stream: message"

# Delete with data still spooled: it is delivered first.
: >"$T_TMP/v3.sent"
gen_records v3 0 50 "$T_TMP/v3.sent" "$T_TMP/batch.json"
r=$(aws_fh put-record-batch --delivery-stream-name made --records "file://$T_TMP/batch.json" 2>&1) ||
    fail "put-record-batch: $r"
r=$(aws_fh delete-delivery-stream --delivery-stream-name made 2>&1) || fail "delete-delivery-stream: $r"
gone() { ! aws_fh describe-delivery-stream --delivery-stream-name made >/dev/null 2>&1; }
wait_for 40 gone || fail "'made' still there 40 s after the delete"
[ -e "$state/made" ] && fail "spool directory $state/made is still there"
[ -e "$state/streams/made.json" ] && fail "$state/streams/made.json is still there"
v3=(--s3rver "$S3_DIR" --bucket test-bucket
    --key-re "v2/${HOUR_RE}made-2-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-$UUID_RE\\.gz"
    --ignore-re '^made/' --sent "$T_TMP/v2.sent" --sent "$T_TMP/v3.sent" --no-dups --expect-count 150)
r=$(verify "${v3[@]}") || fail "records spooled at the delete were not delivered: $r"
r=$(aws_fh put-record --delivery-stream-name made --record '{"Data":"eA=="}' --cli-binary-format raw-in-base64-out 2>&1) &&
    fail "put to a deleted stream succeeded: $r"
assert_contains ResourceNotFoundException "$r" "put after delete"
result "create/restart/update/delete through the aws CLI; 350 records delivered, keys -1- then -2-"
