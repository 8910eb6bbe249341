#!/usr/bin/env bash
# t_s3_flaky: S3 behind a proxy that answers 503 SlowDown, stores the object
# and then answers 500, or drops the connection, for half of the PUTs.
# firehosed retries (backoff) until each batch is stored; every record is
# delivered, in order, and (guarantee 2: a retried batch keeps its key) no
# record is in two objects.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

start_s3rver "$T_TMP/s3" 0 test-bucket
seed=${SEED:-$RANDOM}
log "flaky proxy seed $seed (rerun with SEED=$seed)"
"$PY" "$IT_DIR/flaky_proxy.py" "$S3_PORT" "$seed" >"$T_TMP/proxy.out" 2>"$T_TMP/proxy.err" &
pp=$!; track_pid $pp
wait_for 10 grep -q '^PORT ' "$T_TMP/proxy.out" || fail "flaky proxy did not start"
proxy="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T_TMP/proxy.out")"

port=$(free_port)
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "$proxy" 1073741824 \
    "[ $(s3_stream s3a test-bucket 'flaky/' '') ]"
start_firehosed "$T_TMP/cfg.json" "$port"

# 12 rounds of ~1 MB: size- and interval-flushed objects, each PUT at risk.
for i in $(seq 0 11); do
    r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream s3a --tag f$i --count 300 --batch 30 --min 2000 --max 5000 --sent "$T_TMP/f$i.sent" 2>&1) ||
        fail "send: $r"
    sleep 0.7
done
sargs=(); for i in $(seq 0 11); do sargs+=(--sent "$T_TMP/f$i.sent"); done
v=(--s3rver "$S3_DIR" --key-re "flaky/$(key_re "$HOUR_RE" s3a)" "${sargs[@]}" --no-dups --expect-count 3600)
wait_for 90 verify "${v[@]}" --quiet >/dev/null 2>&1
r=$(verify "${v[@]}") || fail "delivery through a flaky S3: $r"
kill -TERM $pp; wait $pp
log "proxy: $(cat "$T_TMP/proxy.err")"
log "delivered: $r"
result "$(sed -n 's/^flaky_proxy: //p' "$T_TMP/proxy.err" | tr -d "{}'"), $(printf '%s' "$r" | jget .objects) objects, dups $(printf '%s' "$r" | jget .duplicates)"
log "PASS"
