#!/usr/bin/env bash
# t_faults: the fault tests of issue 8, bounded, on 127.0.0.1.
#   kill_loop  20 x kill -9 at random moments (0.2-1.2 s apart) under
#              continuous JS SDK Direct PUT load, fsync durability, local
#              directory destination: every acknowledged record delivered
#              at least once; duplicates counted.
#   s3_outage  s3rver stopped for OUTAGE_S seconds under load, then started
#              again on the same port and data: 0 loss, the backlog
#              drains, /metrics counted failed deliveries during the outage.
#   disk_full  a 4 MiB tmpfs as StateDirectory (root only, else SKIP):
#              producers get ServiceUnavailableException, nothing
#              acknowledged is lost, a restart finds no damage, producers
#              get in again once space returns.
#   corrupt    bytes flipped in a spool segment while stopped: on restart
#              the damaged records are moved to corrupt/ and reported
#              (log, /api/status, /metrics), every other record delivered.
# A summary table (test, iterations, acked, delivered, lost, duplicates)
# ends the output, one RESULT line per test ("lost" for corrupt: the
# damaged records, all of them reported and kept in corrupt/).
# PARTS="corrupt disk_full" runs some of them.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
KILLS=${KILLS:-20}
OUTAGE_S=${OUTAGE_S:-20}
ROWS=()
row() { ROWS+=("$(printf '%-10s %10s %8s %9s %5s %10s' "$@")"); result "$(printf '%s iterations=%s acked=%s delivered=%s lost=%s duplicates=%s' "$@")"; }
c() { printf '%s' "$1" | jget ".$2"; }

# ------------------------------------------------------------ kill loop
kill_loop() {
    local port out=$T_TMP/k.out r v k d acked
    port=$(free_port)
    write_config "$T_TMP/k.json" "$port" "$T_TMP/k.state" "http://127.0.0.1:1" 1073741824 \
        "[ $(local_stream k "$out" 1 1) ]"
    start_firehosed "$T_TMP/k.json" "$port" "$T_TMP/k.log"
    : >"$T_TMP/k.acked"
    node "$FHJS" load --endpoint "$FH_ENDPOINT" --stream k --tag K --acked "$T_TMP/k.acked" \
        --concurrency 4 --batch 20 --max-seconds 120 >"$T_TMP/k.summary" 2>"$T_TMP/k.err" &
    local lp=$!; track_pid $lp
    sleep 0.5
    for k in $(seq 1 "$KILLS"); do
        d=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + 1.0 * r / 32767 }')
        sleep "$d"
        acked=$(wc -l <"$T_TMP/k.acked")
        log "kill -9 #$k after ${d}s ($acked acked so far)"
        kill9 "$FH_PID"
        start_firehosed "$T_TMP/k.json" "$port" "$T_TMP/k.log" 30
    done
    sleep 1
    kill -TERM $lp; wait $lp || fail "kill loop producer failed: $(tail -n 5 "$T_TMP/k.err")"
    log "kill loop producer: $(cat "$T_TMP/k.summary")"
    [ "$(sort -u "$T_TMP/k.acked" | wc -l)" -gt 200 ] || fail "kill loop: too few records acknowledged"
    local kl; kl=$(key_re "$HOUR_RE" k)
    v=(--local "$out" --key-re "$kl" --ignore-re "^(?!(?:$kl)$)" --acked "$T_TMP/k.acked")
    wait_for 40 verify "${v[@]}" --quiet >/dev/null 2>&1
    r=$(verify "${v[@]}") || fail "kill loop: acknowledged records lost: $r"
    log "kill loop: $r"
    row kill_loop "$KILLS" "$(c "$r" acked)" "$(c "$r" distinct)" "$(c "$r" missing)" "$(c "$r" duplicates)"
    stop_pid "$FH_PID" 15
}

# ------------------------------------------------------------ S3 outage
metric() {  # metric NAME STREAM: the sample's value from /metrics (0 if none)
    local m
    m=$(curl -s -m 5 "$FH_ENDPOINT/metrics")
    printf '%s\n' "$m" | awk -v n="$1{stream=\"$2\"}" '$1 == n { v = $2 } END { print v + 0 }'
}
s3_outage() {
    local port r v f0 f1 pend
    start_s3rver "$T_TMP/o.s3" 0 test-bucket
    local s3port=$S3_PORT s3dir=$S3_DIR
    port=$(free_port)
    write_config "$T_TMP/o.json" "$port" "$T_TMP/o.state" "$S3_ENDPOINT" 1073741824 \
        "[ $(s3_stream o test-bucket 'out/' '' 1 1) ]"
    start_firehosed "$T_TMP/o.json" "$port" "$T_TMP/o.log"
    : >"$T_TMP/o.acked"
    node "$FHJS" load --endpoint "$FH_ENDPOINT" --stream o --tag O --acked "$T_TMP/o.acked" \
        --concurrency 2 --batch 20 --max-seconds 120 >"$T_TMP/o.summary" 2>"$T_TMP/o.err" &
    local lp=$!; track_pid $lp
    sleep 3
    f0=$(metric firehose_delivery_failures_total o)
    log "stopping s3rver for ${OUTAGE_S}s ($(wc -l <"$T_TMP/o.acked") acked so far, failures $f0)"
    stop_pid "$S3_PID" 10
    sleep "$OUTAGE_S"
    f1=$(metric firehose_delivery_failures_total o)
    pend=$(curl -s -m 5 "$FH_ENDPOINT/api/status" | jget '.DeliveryStreams[0].Buffer.PendingBatches')
    log "during the outage: firehose_delivery_failures_total $f0 -> $f1, PendingBatches $pend"
    [ "$f1" -gt "$f0" ] || fail "/metrics shows no failed delivery during a ${OUTAGE_S}s S3 outage ($f0 -> $f1)"
    [ "${pend:-0}" -gt 0 ] || fail "/api/status shows no backlog during the outage"
    start_s3rver "$s3dir" "$s3port" test-bucket
    sleep 3
    kill -TERM $lp; wait $lp || fail "outage producer failed: $(tail -n 5 "$T_TMP/o.err")"
    log "outage producer: $(cat "$T_TMP/o.summary")"
    v=(--s3rver "$s3dir" --key-re "out/$(key_re "$HOUR_RE" o)" --acked "$T_TMP/o.acked")
    wait_for 90 verify "${v[@]}" --quiet >/dev/null 2>&1
    r=$(verify "${v[@]}") || fail "S3 outage: acknowledged records lost: $r"
    log "S3 outage: $r"
    wait_for 20 sh -c "curl -s -m 5 '$FH_ENDPOINT/api/status' | grep -q '\"PendingBatches\":0'" ||
        fail "the backlog did not drain: $(curl -s -m 5 "$FH_ENDPOINT/api/status" | head -c 600)"
    row s3_outage 1 "$(c "$r" acked)" "$(c "$r" distinct)" "$(c "$r" missing)" "$(c "$r" duplicates)"
    stop_pid "$FH_PID" 15
    stop_pid "$S3_PID" 10
}

# ------------------------------------------------------------ disk full
SMALL=
umount_small() {
    [ -n "$SMALL" ] || return 0
    [ -n "${FH_PID:-}" ] && is_child "$FH_PID" && kill9 "$FH_PID"
    umount -l "$SMALL" 2>/dev/null
    SMALL=
}
trap 'rc=$?; umount_small; (exit $rc); cleanup' EXIT

disk_full() {
    local port r v s3port fillr
    if [ "$(id -u)" != 0 ]; then
        log "SKIP disk_full: not root (mounting a tmpfs needs root)"
        result "disk_full SKIP: not root"
        ROWS+=("$(printf '%-10s %s' disk_full 'SKIP (not root)')")
        return 0
    fi
    mkdir -p "$T_TMP/small"
    if ! mount -t tmpfs -o size=4m tmpfs "$T_TMP/small" 2>"$T_TMP/mount.err"; then
        log "SKIP disk_full: cannot mount a tmpfs: $(cat "$T_TMP/mount.err")"
        result "disk_full SKIP: mount failed"
        ROWS+=("$(printf '%-10s %s' disk_full 'SKIP (mount failed)')")
        return 0
    fi
    SMALL=$T_TMP/small
    s3port=$(free_port)
    port=$(free_port)
    write_config "$T_TMP/f.json" "$port" "$SMALL/state" "http://127.0.0.1:$s3port" 1073741824 \
        "[ $(s3_stream f test-bucket 'full/' '' 1 1) ]"
    start_firehosed "$T_TMP/f.json" "$port" "$T_TMP/f.log"
    : >"$T_TMP/f.acked"
    fillr=$(fhjs fill --endpoint "$FH_ENDPOINT" --stream f --tag F --acked "$T_TMP/f.acked" \
        --batch 50 --size 1024 --max-seconds 40 2>&1) || fail "disk full: producer failed: $fillr"
    log "disk full: $fillr; $(df -k "$SMALL" | tail -n1)"
    [ "$(c "$fillr" throttled_entries)" -gt 0 ] || fail "disk full: no ServiceUnavailableException entry: $fillr"
    assert_eq 503 "$(c "$fillr" putrecord_status)" "disk full: PutRecord status"
    assert_eq ServiceUnavailableException "$(c "$fillr" putrecord_type)" "disk full: PutRecord error"
    assert_eq 0 "$(c "$fillr" other_failed_entries)" "disk full: entries failed with other codes"
    kill -0 "$FH_PID" 2>/dev/null || fail "firehosed died on a full disk"
    # Space returns: producers get in again.
    mount -o remount,size=64m "$SMALL" || fail "remount failed"
    : >"$T_TMP/f2.acked"
    wait_for 20 sh -c "node '$FHJS' send --endpoint '$FH_ENDPOINT' --stream f --tag G --count 20 --batch 20 >/dev/null 2>&1" ||
        fail "disk full: records still refused after space returned"
    for i in $(seq 0 19); do printf 'G-%07d\n' "$i"; done >"$T_TMP/f2.acked"
    # A restart finds an undamaged spool.
    stop_pid "$FH_PID" 15 || fail "disk full: SIGTERM did not exit 0"
    start_firehosed "$T_TMP/f.json" "$port" "$T_TMP/f.log"
    if grep -E 'corrupt data|torn' "$T_TMP/f.log" >&2; then fail "disk full: the spool was damaged"; fi
    start_s3rver "$T_TMP/f.s3" "$s3port" test-bucket
    v=(--s3rver "$S3_DIR" --key-re "full/$(key_re "$HOUR_RE" f)" --acked "$T_TMP/f.acked" --acked "$T_TMP/f2.acked")
    wait_for 60 verify "${v[@]}" --quiet >/dev/null 2>&1
    r=$(verify "${v[@]}") || fail "disk full: acknowledged records lost: $r"
    log "disk full: $r"
    row disk_full 1 "$(c "$r" acked)" "$(c "$r" distinct)" "$(c "$r" missing)" "$(c "$r" duplicates)"
    stop_pid "$FH_PID" 15
    stop_pid "$S3_PID" 10
    umount_small
}

# ------------------------------------------------------------ corrupt segment
corrupt() {
    local port out=$T_TMP/c.out seg r st
    port=$(free_port)
    # Interval 900 s, 128 MB: everything stays in the spool until restart.
    write_config "$T_TMP/c.json" "$port" "$T_TMP/c.state" "http://127.0.0.1:1" 1073741824 \
        "[ $(local_stream c "$out" 128 900) ]"
    start_firehosed "$T_TMP/c.json" "$port" "$T_TMP/c.log"
    : >"$T_TMP/c.acked"
    for b in 1 2 3 4 5; do
        r=$(fhjs send --endpoint "$FH_ENDPOINT" --stream c --tag C$b --count 200 --batch 50 --min 50 --max 200) ||
            fail "corrupt: producer failed: $r"
        for i in $(seq 0 199); do printf 'C%d-%07d\n' "$b" "$i"; done >>"$T_TMP/c.acked"
    done
    stop_pid "$FH_PID" 15 || fail "corrupt: SIGTERM did not exit 0"
    seg=$(ls "$T_TMP/c.state/c/"*.seg | head -n1)
    [ -n "$seg" ] || fail "corrupt: no segment in $T_TMP/c.state/c"
    # Flip one byte at a third and 16 bytes at two thirds of the segment.
    "$PY" - "$seg" <<'PYEOF'
import os, sys
p = sys.argv[1]
n = os.path.getsize(p)
with open(p, "r+b") as f:
    for off, cnt in ((n // 3, 1), (2 * n // 3, 16)):
        f.seek(off); b = bytearray(f.read(cnt))
        f.seek(off); f.write(bytes(x ^ 0x5A for x in b))
PYEOF
    write_config "$T_TMP/c.json" "$port" "$T_TMP/c.state" "http://127.0.0.1:1" 1073741824 \
        "[ $(local_stream c "$out" 1 1) ]"
    start_firehosed "$T_TMP/c.json" "$port" "$T_TMP/c.log"
    grep -E 'corrupt data' "$T_TMP/c.log" >&2 || fail "corrupt: no damage reported in the log"
    local bads nbad
    nbad=$(ls "$T_TMP/c.state/c/corrupt/" 2>/dev/null | wc -l)
    [ "$nbad" -ge 1 ] || fail "corrupt: nothing in $T_TMP/c.state/c/corrupt/"
    st=$(curl -s -m 5 "$FH_ENDPOINT/api/status")
    local rep; rep=$(printf '%s' "$st" | jget '.DeliveryStreams[0].Counters.SpoolCorruptRecords')
    [ "${rep:-0}" -ge 1 ] || fail "corrupt: SpoolCorruptRecords is '$rep' in /api/status"
    [ "$(metric firehose_spool_corrupt_records_total c)" = "$rep" ] || fail "corrupt: /metrics disagrees with /api/status ($rep)"
    # Every acknowledged record is delivered but the reported ones, and
    # each of those is in a file under corrupt/.
    wait_for 30 sh -c "\"$PY\" '$IT_DIR/verify.py' --local '$out' --acked '$T_TMP/c.acked' --quiet 2>&1 | grep -q '\"missing\": $rep,'"
    r=$("$PY" - "$out" "$T_TMP/c.acked" "$T_TMP/c.state/c/corrupt" <<'PYEOF'
import gzip, json, os, re, sys
out, acked, bad = sys.argv[1:4]
seen = {}
for dp, _, fns in os.walk(out):
    for fn in fns:
        with gzip.open(os.path.join(dp, fn)) as f:
            for m in re.finditer(rb"\{([A-Za-z0-9]+-\d+):\d+:", f.read()):
                k = m.group(1).decode(); seen[k] = seen.get(k, 0) + 1
ids = [l.strip() for l in open(acked) if l.strip()]
missing = [i for i in ids if i not in seen]
blob = b"".join(open(os.path.join(bad, f), "rb").read() for f in os.listdir(bad))
# The flipped bytes may be in the record's id itself: each byte of it may
# also be found XORed with 0x5A, as written above.
def kept(i):
    pat = b"".join(b"[" + re.escape(bytes([c])) + re.escape(bytes([c ^ 0x5A])) + b"]"
                   for c in ("{%s:" % i).encode())
    return re.search(pat, blob) is not None
unexplained = [i for i in missing if not kept(i)]
print(json.dumps({"acked": len(set(ids)), "delivered": sum(1 for i in set(ids) if i in seen),
                  "missing": len(missing), "duplicates": sum(v - 1 for v in seen.values()),
                  "unexplained": unexplained[:10]}))
PYEOF
)
    log "corrupt: $r (reported $rep, $nbad file(s) in corrupt/)"
    assert_eq "$rep" "$(c "$r" missing)" "corrupt: records missing vs. SpoolCorruptRecords"
    assert_eq "[]" "$(c "$r" unexplained)" "corrupt: missing records that are not in corrupt/"
    # "lost" here are the damaged records: reported, and kept in corrupt/.
    row corrupt 1 "$(c "$r" acked)" "$(c "$r" delivered)" "$(c "$r" missing)" "$(c "$r" duplicates)"
    stop_pid "$FH_PID" 15
}

for part in ${PARTS:-kill_loop s3_outage disk_full corrupt}; do
    t0=$SECONDS
    $part
    log "$part took $((SECONDS - t0))s"
done
{
    printf '%-10s %10s %8s %9s %5s %10s\n' test iterations acked delivered lost duplicates
    printf '%s\n' "${ROWS[@]}"
} >&2
log "PASS"
