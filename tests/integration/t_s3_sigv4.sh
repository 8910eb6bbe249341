#!/usr/bin/env bash
# t_s3_sigv4: against @20minutes/s3rver 5.0.0, which checks SigV4 secrets.
# Right secret: objects land. Wrong secret: nothing lands (403 retried, the
# data stays in the spool). Restart with the right secret on the same
# StateDirectory: every acknowledged record is delivered, once.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_s3rver_auth "$T_TMP/s3" 0 test-bucket
# The peer must really reject a wrong secret, or this test proves nothing.
echo hello >"$T_TMP/hello.txt"
AWS_SECRET_ACCESS_KEY=WRONGSECRET "$AWS" --endpoint-url "$S3_ENDPOINT" s3api put-object \
    --bucket test-bucket --key probe/x --body "$T_TMP/hello.txt" >"$T_TMP/probe.out" 2>&1 &&
    fail "s3rver 5.0.0 accepted a wrong secret: $(cat "$T_TMP/probe.out")"
assert_contains SignatureDoesNotMatch "$(cat "$T_TMP/probe.out")" "peer's answer to a wrong secret"
"$AWS" --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket test-bucket --key probe/x \
    --body "$T_TMP/hello.txt" >"$T_TMP/probe.out" 2>&1 || fail "s3rver 5.0.0 rejected the right secret: $(cat "$T_TMP/probe.out")"
rm -rf "$S3_DIR/test-bucket/probe"

port=$(free_port)
streams="[ $(s3_stream s3a test-bucket 'good/' '') , $(s3_stream s3w test-bucket 'wrong/' '') ]"
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "$S3_ENDPOINT" 1073741824 "$streams"

# 1. right secret
start_firehosed "$T_TMP/cfg.json" "$port"
r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream s3a --tag good --count 200 --batch 50 --sent "$T_TMP/good.sent" 2>&1) ||
    fail "send with the right secret: $r"
vg=(--s3rver "$S3_DIR" --key-re "good/$(key_re "$HOUR_RE" s3a)" --sent "$T_TMP/good.sent" --no-dups --expect-count 200)
wait_for 20 verify "${vg[@]}" --quiet >/dev/null 2>&1
r=$(verify "${vg[@]}") || fail "right secret: delivery check failed: $r"
log "right secret: $r"
stop_pid "$FH_PID" 10; rc=$?
assert_eq 0 "$rc" "firehosed exit status after SIGTERM"

# 2. wrong secret: acknowledged, but nothing lands
saved=$AWS_SECRET_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=WRONGSECRET
start_firehosed "$T_TMP/cfg.json" "$port" "$T_TMP/fh-wrong.log"
export AWS_SECRET_ACCESS_KEY=$saved
: >"$T_TMP/w.acked"
r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream s3w --tag w --count 300 --batch 50 --sent "$T_TMP/w.sent" 2>&1) ||
    fail "send while the S3 secret is wrong: producer calls must still succeed: $r"
sleep 5
landed=$(find "$S3_DIR/test-bucket" -path '*wrong/*' -name '*._S3rver_object' | wc -l)
assert_eq 0 "$landed" "objects written with a wrong secret"
grep -q -E '403|SignatureDoesNotMatch' "$T_TMP/fh-wrong.log" ||
    log "note: firehosed's log does not mention the 403/SignatureDoesNotMatch"
t0=$SECONDS
stop_pid "$FH_PID" 15; rc=$?
assert_eq 0 "$rc" "SIGTERM while S3 rejects every PUT: exit status (after $((SECONDS - t0)) s)"
log "SIGTERM while S3 rejects every PUT: exit 0 after $((SECONDS - t0)) s"
landed=$(find "$S3_DIR/test-bucket" -path '*wrong/*' -name '*._S3rver_object' | wc -l)
assert_eq 0 "$landed" "objects written with a wrong secret (after shutdown)"

# 3. right secret again, same StateDirectory: the spooled records go out
start_firehosed "$T_TMP/cfg.json" "$port" "$T_TMP/fh-fixed.log"
vw=(--s3rver "$S3_DIR" --key-re "wrong/$(key_re "$HOUR_RE" s3w)" --ignore-re '^good/'
    --sent "$T_TMP/w.sent" --no-dups --expect-count 300)
wait_for 40 verify "${vw[@]}" --quiet >/dev/null 2>&1
r=$(verify "${vw[@]}") || fail "after restart with the right secret: delivery check failed: $r"
log "after restart with the right secret: $r"
# and the earlier objects are untouched and not re-delivered
r=$(verify "${vg[@]}" --ignore-re '^wrong/') || fail "right-secret objects changed after restart: $r"
log "PASS"
