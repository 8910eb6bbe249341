#!/usr/bin/env bash
# kinesis.sh - the Kinesis source against kinesalite (part of make bench,
# about 40 s). Run from the repository root.
#
#   1. throughput: BENCH_KIN_RECORDS (40000) records of ~20 bytes are put
#      into a 4-shard stream first (then 10 x as many, KPL-aggregated 100
#      per Kinesis record); then firehosed (local lease store,
#      TRIM_HORIZON, GetRecordsLimit 10000, local directory, UNCOMPRESSED,
#      1 MB / 1 s buffering) starts and the time until every record is in
#      the output gives records/s. CPU seconds of firehosed and of
#      kinesalite over that window say which side was busy; the same
#      records read by a bare reader (kin.js drain, no spool, no delivery)
#      give kinesalite's own ceiling.
#   2. lag: BENCH_KIN_RATE (1000) records/s for BENCH_KIN_SECONDS (15) s,
#      each stamped with its send time; lag = delivered object's mtime -
#      send time, p50/p99/max.
set -u -o pipefail
ROOT=$(pwd)
FIREHOSED=${FIREHOSED:-$ROOT/firehosed}
PEERS=$ROOT/.cache/peers/node_modules
export NODE_PATH=$PEERS AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
       AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
N=${BENCH_KIN_RECORDS:-40000}
RATE=${BENCH_KIN_RATE:-1000}
SECS=${BENCH_KIN_SECONDS:-15}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fh-kbench.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ "${BENCH_KEEP:-0}" = 1 ] && echo "kinesis bench: kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "kinesis bench: $*" >&2; exit 1; }
[ -x "$PEERS/.bin/kinesalite" ] || die "kinesalite is not installed (make deps-test)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK=$(getconf CLK_TCK)
count() { find "$1" -type f ! -name '*.tmp-*' -print0 2>/dev/null | xargs -0 -r cat 2>/dev/null | wc -l; }

kport=$(free_port)
"$PEERS/.bin/kinesalite" --port "$kport" --createStreamMs 50 --updateStreamMs 50 \
    --shardLimit 100 >"$TMP/kinesalite.log" 2>&1 &
KPID=$!; PIDS+=("$KPID")
wait_port "$kport" || die "kinesalite did not start"
kin() { node "$ROOT/tests/integration/js/kin.js" --endpoint "http://127.0.0.1:$kport" "$@"; }

run_fh() {   # run_fh NAME STREAM START
    local port; port=$(free_port)
    cat >"$TMP/$1.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$TMP/state-$1",
               "Endpoints": { "Kinesis": "http://127.0.0.1:$kport" } },
  "DeliveryStreams": [ { "DeliveryStreamName": "k", "DeliveryStreamType": "KinesisStreamAsSource",
      "KinesisStreamSourceConfiguration": { "KinesisStreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/$2",
        "StartingPosition": "$3", "IdleTimeBetweenReadsInMillis": 200 },
      "LocalDirectoryDestinationConfiguration": { "Path": "$TMP/out-$1", "Prefix": "", "ErrorOutputPrefix": "err/",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED" } } ] }
JSON
    "$FIREHOSED" --config "$TMP/$1.json" >"$TMP/$1.log" 2>&1 &
    FPID=$!; PIDS+=("$FPID")
    wait_port "$port" || die "firehosed did not start (log $TMP/$1.log)"
}

# 1. throughput: tput NAME KPL (0 = plain records)
tput() {
    local name=$1 kpl=$2 per=10000 n fill ms fcpu kcpu rps fpct kpct drain k0 f0 t0
    [ "$kpl" -gt 0 ] && per=100000
    kin create --stream "$name" --shards 4 || die "CreateStream"
    t0=$(date +%s%N)
    for i in $(seq 0 $(( (N * (kpl > 0 ? 10 : 1)) / per - 1))); do
        kin put --stream "$name" --tag "t$i" --first 0 --count "$per" \
            $([ "$kpl" -gt 0 ] && echo --kpl "$kpl") >/dev/null || die "put"
    done
    fill=$(( ($(date +%s%N) - t0) / 1000000 ))
    n=$(( (N * (kpl > 0 ? 10 : 1)) / per * per ))
    k0=$(ticks "$KPID")
    t0=$(date +%s%N)
    run_fh "$name" "$name" TRIM_HORIZON
    f0=$(ticks "$FPID")
    while [ "$(count "$TMP/out-$name")" -lt "$n" ]; do
        [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 120 ] || die "only $(count "$TMP/out-$name") of $n delivered after 120 s"
        sleep 0.1
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    fcpu=$(( $(ticks "$FPID") - f0 )); kcpu=$(( $(ticks "$KPID") - k0 ))
    kill -TERM "$FPID"; wait "$FPID" 2>/dev/null
    rps=$(awk "BEGIN { printf \"%.0f\", $n * 1000 / $ms }")
    fpct=$(awk "BEGIN { printf \"%.0f\", 100 * $fcpu / $TCK * 1000 / $ms }")
    kpct=$(awk "BEGIN { printf \"%.0f\", 100 * $kcpu / $TCK * 1000 / $ms }")
    if [ "$kpl" -gt 0 ]; then
        echo "K1 KPL: $n user records in $((n / kpl)) aggregates of $kpl (put in ${fill} ms)" \
             "de-aggregated and delivered in ${ms} ms: ${rps} records/s"
    else
        echo "K1 plain: $n records of ~20 B (put in ${fill} ms) read and delivered in ${ms} ms:" \
             "${rps} records/s"
    fi
    echo "    CPU over that window: firehosed ${fpct}% of one core, kinesalite ${kpct}%"
    k0=$(ticks "$KPID"); t0=$(date +%s%N)
    drain=$(kin drain --stream "$name" --count "$((kpl > 0 ? n / kpl : n))") || die "drain"
    kcpu=$(( $(ticks "$KPID") - k0 )); ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "    bare GetRecords reader, same stream: $drain (kinesalite" \
         "$(awk "BEGIN { printf \"%.0f\", 100 * $kcpu / $TCK * 1000 / $ms }")% CPU)"
}
tput tplain 0
tput tkpl 100

# 2. lag at a fixed rate
kin create --stream lag --shards 4 || die "CreateStream"
run_fh lag lag LATEST
sleep 2
kin rate --stream lag --tag L --rate "$RATE" --seconds "$SECS" >"$TMP/rate.json" || die "rate"
sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$TMP/rate.json")
for _ in $(seq 150); do [ "$(count "$TMP/out-lag")" -ge "$sent" ] && break; sleep 0.2; done
python3 - "$TMP/out-lag" "$sent" "$RATE" <<'PY'
import os, sys
root, sent, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lags = []
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        if "/err/" in p:
            continue
        mt = os.stat(p).st_mtime * 1000
        for line in open(p):
            parts = line.split()
            if len(parts) == 2:
                lags.append(mt - int(parts[1]))
lags.sort()
q = lambda x: lags[min(len(lags) - 1, int(x * len(lags)))]
print(f"K2: {rate} records/s for the test's duration: {len(lags)} of {sent} delivered; "
      f"lag put -> delivered p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {lags[-1]:.0f} ms")
print("    (includes BufferingHints IntervalInSeconds 1 and IdleTimeBetweenReadsInMillis 200)")
PY
