#!/usr/bin/env bash
# t_s3: awscli put-record-batch + the JS SDK (PutRecordBatch and PutRecord)
# -> firehosed -> s3rver 3.7.1. Objects read back from s3rver's data dir,
# gunzipped, compared byte for byte with what each producer sent (order
# kept within a producer); key layout with a Prefix expression and with the
# default prefix; the same objects through the S3 API (list + get).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_s3rver "$T_TMP/s3" 0 test-bucket
port=$(free_port)
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "$S3_ENDPOINT" 1073741824 "[
  $(s3_stream s3a test-bucket 'logs/!{timestamp:yyyy}/' 'errors/!{firehose:error-output-type}/'),
  $(s3_stream s3b test-bucket '' '') ]"
start_firehosed "$T_TMP/cfg.json" "$port"

# 1. awscli: 2 x 100 records
: >"$T_TMP/cli.sent"
for b in 0 1; do
    gen_records cli $((b * 100)) 100 "$T_TMP/cli.sent" "$T_TMP/batch.json"
    r=$(aws_fh put-record-batch --delivery-stream-name s3a --records "file://$T_TMP/batch.json" 2>&1) ||
        fail "aws firehose put-record-batch failed: $r"
    assert_eq 0 "$(printf '%s' "$r" | jget '.FailedPutCount')" "put-record-batch FailedPutCount ($r)"
done
# 2. JS SDK: 600 records in batches of 50, then 40 single PutRecords to s3b
r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream s3a --tag js --count 600 --batch 50 --sent "$T_TMP/js.sent" 2>&1) ||
    fail "JS SDK PutRecordBatch failed: $r"
r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream s3b --tag jss --count 40 --single --sent "$T_TMP/jss.sent" 2>&1) ||
    fail "JS SDK PutRecord failed: $r"
log "sent 200 (awscli) + 600 (SDK batch) to s3a, 40 (SDK PutRecord) to s3b"

year=$(date -u +%Y)
va=(--s3rver "$S3_DIR" --bucket test-bucket --key-re "logs/$year/$(key_re '' s3a)"
    --sent "$T_TMP/cli.sent" --sent "$T_TMP/js.sent" --no-dups --expect-count 800)
vb=(--s3rver "$S3_DIR" --bucket test-bucket --key-re "$(key_re "$year/[0-9]{2}/[0-9]{2}/[0-9]{2}/" s3b)"
    --ignore-re '^logs/' --sent "$T_TMP/jss.sent" --no-dups --expect-count 40)
wait_for 25 verify "${va[@]}" --ignore-re '^[0-9]{4}/' --quiet >/dev/null 2>&1
wait_for 10 verify "${vb[@]}" --quiet >/dev/null 2>&1
ra=$(verify "${va[@]}" --ignore-re '^[0-9]{4}/') || fail "s3a delivery check failed: $ra"
rb=$(verify "${vb[@]}") || fail "s3b delivery check failed: $rb"
log "s3a: $ra"
log "s3b: $rb"

# DescribeDeliveryStream echoes the Extended S3 configuration.
r=$(aws_fh describe-delivery-stream --delivery-stream-name s3a 2>&1) || fail "describe-delivery-stream s3a: $r"
e=$(printf '%s' "$r" | jget '.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription') ||
    fail "no ExtendedS3DestinationDescription in: $r"
assert_eq 'arn:aws:s3:::test-bucket' "$(printf '%s' "$e" | jget '.BucketARN')" "Describe BucketARN"
assert_eq 'logs/!{timestamp:yyyy}/' "$(printf '%s' "$e" | jget '.Prefix')" "Describe Prefix"
assert_eq 'errors/!{firehose:error-output-type}/' "$(printf '%s' "$e" | jget '.ErrorOutputPrefix')" "Describe ErrorOutputPrefix"
assert_eq GZIP "$(printf '%s' "$e" | jget '.CompressionFormat')" "Describe CompressionFormat"
assert_eq 1 "$(printf '%s' "$e" | jget '.BufferingHints.SizeInMBs')" "Describe BufferingHints.SizeInMBs"
assert_eq 1 "$(printf '%s' "$e" | jget '.BufferingHints.IntervalInSeconds')" "Describe BufferingHints.IntervalInSeconds"

# Same objects through the S3 API (awscli v2 s3api against s3rver).
keys=$("$AWS" --endpoint-url "$S3_ENDPOINT" s3api list-objects-v2 --bucket test-bucket \
        --query 'Contents[].Key' --output text 2>&1) || fail "list-objects-v2: $keys"
napi=$(printf '%s\n' $keys | grep -c .)
ndisk=$(find "$S3_DIR/test-bucket" -name '*._S3rver_object' | wc -l)
assert_eq "$ndisk" "$napi" "objects listed by the S3 API vs on disk"
k=$(printf '%s\n' $keys | grep '^logs/' | head -n1)
"$AWS" --endpoint-url "$S3_ENDPOINT" s3api get-object --bucket test-bucket --key "$k" "$T_TMP/got.gz" >/dev/null 2>&1 ||
    fail "get-object $k failed"
cmp -s "$T_TMP/got.gz" "$S3_DIR/test-bucket/$k._S3rver_object" || fail "get-object $k differs from the stored file"
gzip -t "$T_TMP/got.gz" || fail "object $k is not valid gzip"
h=$("$AWS" --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket test-bucket --key "$k" 2>&1) || fail "head-object $k: $h"
assert_eq gzip "$(printf '%s' "$h" | jget '.ContentEncoding')" "Content-Encoding of a GZIP object"
assert_eq application/octet-stream "$(printf '%s' "$h" | jget '.ContentType')" "Content-Type of an object"
log "PASS"
