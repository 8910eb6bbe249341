#!/usr/bin/env bash
# suite.sh BUILD_DIR - issue 9's benchmark suite: pipelines against limits.
# Run from the repository root after `make bench-suite` built the tools
# (BUILD_DIR holds loadgen, sink, fsync_bench; ./firehosed is the daemon).
#
#   P1        Direct PUT -> spool (fsync) -> local dir, UNCOMPRESSED
#   P2-gz1/6  same with GZIP level 1 / 6
#   P3-lua-id / P3-lua-json   P2-gz1 + identity / JSON-parsing Lua
#   P4        Direct PUT -> identity Lua -> GZIP -> HTTP endpoint (sink)
#   P5-*      Durability os vs fsync, 150-byte and 4 KB records
#   P6-tiny   P1 with 10-byte records (memory per record); -lua: P3-lua-id
#
# Limits, measured in the same run on the same machine: bare zlib at the
# same level on loadgen's bytes, write+fdatasync latency (fsync_bench), a
# no-op HTTP server's PutRecordBatch rate (sink --mode noop) with the same
# loadgen. MaxSpoolBytesPerStream is small (BENCH_SPOOL_MB, 64) so ingest
# is throttled to what delivery sustains within the first second: the
# figures are end-to-end, not a burst into the spool.
#
# Environment: BENCH_RUNS (5), BENCH_DURATION (5 s), BENCH_CONNECTIONS
# (16), BENCH_BATCH (500), BENCH_SPOOL_MB (64), BENCH_ONLY ("P1 P4" ...),
# BENCH_PERF=NAME (perf record -g firehosed during NAME's last run; the
# report goes to bench/results/perf-NAME.txt), FIREHOSED (./firehosed),
# BENCH_P5_RATE (records/s for P5-lat*, default half of P1's rate).
set -u -o pipefail

if [ $# -ne 1 ] || [ ! -x "$1/loadgen" ] || [ ! -x "$1/sink" ] ||
   [ ! -x "$1/fsync_bench" ]; then
    echo "usage: bash tests/bench/suite.sh BUILD_DIR (make bench-suite" \
         "builds loadgen, sink and fsync_bench there)" >&2
    exit 2
fi
BIN=$(cd "$1" && pwd)
FIREHOSED=${FIREHOSED:-./firehosed}
[ -x "$FIREHOSED" ] || { echo "suite: $FIREHOSED not found (make firehosed)" >&2; exit 2; }
FIREHOSED=$(cd "$(dirname "$FIREHOSED")" && pwd)/$(basename "$FIREHOSED")
RUNS=${BENCH_RUNS:-5}
DURATION=${BENCH_DURATION:-5}
CONNS=${BENCH_CONNECTIONS:-16}
BATCH=${BENCH_BATCH:-500}
SPOOL_MB=${BENCH_SPOOL_MB:-64}
ONLY=${BENCH_ONLY:-}
PERF=${BENCH_PERF:-}
TCK=$(getconf CLK_TCK)
RESULTS=bench/results
mkdir -p "$RESULTS"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSON=$RESULTS/$STAMP.json

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fh-suite.XXXXXX")
FH_PID="" SINK_PID="" PERF_PID=""
cleanup() {
    for p in $FH_PID $SINK_PID; do
        kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 40000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
wait_port() {   # wait_port PORT PID: until it accepts (10 s)
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
jget() { sed -n 's/.*"'"$1"'":\([-0-9.eE+]*\).*/\1/p' <<<"$2" | head -1; }
median() {
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0)
        print 0; else if (NR % 2) print a[(NR + 1) / 2];
        else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
calc() { awk "BEGIN { v = ($2); printf \"$1\", v }"; }
cpu_ticks() {
    local s
    s=$(cat "/proc/$FH_PID/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }; set -- $s; echo $(( ${12} + ${13} ))
}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

# ---- limits ----------------------------------------------------------------
echo "suite: limits (runs $RUNS x ${DURATION}s per pipeline, $CONNS connections, batch $BATCH)"
declare -A LIM
for lv in 1 6; do
    for sz in 150 4096; do
        o=$("$BIN/loadgen" --zlib-baseline --level "$lv" --size "$sz" --json)
        LIM[zlib$lv.$sz]=$(jget zlib_mb_per_s "$o")
    done
done
o=$("$BIN/fsync_bench" --dir "$TMP" --size $(( BATCH * 150 )) --json) ||
    { echo "suite: fsync_bench failed" >&2; exit 1; }
LIM[fsync_p50]=$(jget p50_ms "$o"); LIM[fsync_p99]=$(jget p99_ms "$o")
SPORT=$(free_port)
"$BIN/sink" --port "$SPORT" --mode noop --seconds 120 2>/dev/null &
SINK_PID=$!
wait_port "$SPORT" "$SINK_PID" || { echo "suite: noop sink did not start" >&2; exit 1; }
for sz in 10 150 4096; do
    o=$("$BIN/loadgen" --url "http://127.0.0.1:$SPORT/" --stream x \
        --connections "$CONNS" --batch "$BATCH" --size "$sz" \
        --duration "$DURATION" --json)
    LIM[noop.$sz]=$(jget records_per_s "$o")
done
kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null; SINK_PID=""
printf '  zlib L1 %s MB/s, L6 %s MB/s (150 B); L1 %s, L6 %s (4 KB)\n' \
    "${LIM[zlib1.150]}" "${LIM[zlib6.150]}" "${LIM[zlib1.4096]}" "${LIM[zlib6.4096]}"
printf '  write+fdatasync %d B: p50 %s ms p99 %s ms\n' $(( BATCH * 150 )) \
    "${LIM[fsync_p50]}" "${LIM[fsync_p99]}"
printf '  no-op HTTP server: %s rec/s (10 B), %s rec/s (150 B), %s rec/s (4 KB)\n' \
    "${LIM[noop.10]}" "${LIM[noop.150]}" "${LIM[noop.4096]}"

# ---- pipelines ---------------------------------------------------------------
mkdir -p "$TMP/transforms"
cat >"$TMP/transforms/identity.lua" <<'LUA'
function transform(record)
  return "Ok"
end
LUA
cat >"$TMP/transforms/json.lua" <<'LUA'
local cjson = require "cjson.safe"
function transform(record)
  local event = cjson.decode(record.data)
  if type(event) ~= "table" then
    return "ProcessingFailed", "not a JSON object"
  end
  return "Ok"
end
LUA

lua_proc() {    # lua_proc SCRIPT|"" -> ProcessingConfiguration member or ""
    [ -n "$1" ] || return 0
    printf '"ProcessingConfiguration": { "Enabled": true, "Processors": [ { "Type": "Lua", "Parameters": [ { "ParameterName": "ScriptName", "ParameterValue": "%s" } ] } ] },' "$1"
}

write_config() {    # write_config DIR DURABILITY DEST(local|http) COMP LEVEL LUA
    local dest
    if [ "$3" = http ]; then
        dest="\"HttpEndpointDestinationConfiguration\": { $(lua_proc "$6")
        \"EndpointConfiguration\": { \"Url\": \"http://127.0.0.1:$SINKP/\", \"Name\": \"sink\" },
        \"RequestConfiguration\": { \"ContentEncoding\": \"$4\" },
        \"BufferingHints\": { \"SizeInMBs\": 5, \"IntervalInSeconds\": 1 },
        \"S3Configuration\": { \"BucketARN\": \"arn:aws:s3:::bench-unused\" } }"
    else
        dest="\"LocalDirectoryDestinationConfiguration\": { $(lua_proc "$6")
        \"Path\": \"$1/out\", \"CompressionFormat\": \"$4\", \"CompressionLevel\": $5,
        \"BufferingHints\": { \"SizeInMBs\": 5, \"IntervalInSeconds\": 1 } }"
    fi
    cat >"$1/config.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$PORT", "StateDirectory": "$1/state",
    "Durability": "$2", "MaxSpoolBytesPerStream": $(( SPOOL_MB << 20 )),
    "TransformsDirectory": "$TMP/transforms",
    "Endpoints": { "S3": "http://127.0.0.1:9" } },
  "DeliveryStreams": [ { "DeliveryStreamName": "bench", $dest } ] }
JSON
}

ROWS=()     # summary lines
LG_EXTRA=() # more loadgen arguments (P5-lat: --rate)
declare -A MRPS     # median records/s per pipeline
declare -A MP99     # median p99 ms per pipeline
JROWS=()    # JSON objects

# pipeline NAME DURABILITY DEST COMP LEVEL LUA SIZE LIMIT-KIND
pipeline() {
    local name=$1 dur=$2 dest=$3 comp=$4 lv=$5 lua=$6 size=$7 kind=$8
    local dir=$TMP/$name r o c0 c1 rss lim lim_desc ratio
    local -a rps mbs p50 p99 p999 cpu rsss
    want "$name" || return 0
    mkdir -p "$dir"
    if [ "$dest" = http ]; then
        SINKP=$(free_port)
        "$BIN/sink" --port "$SINKP" --seconds 600 2>"$dir/sink.log" &
        SINK_PID=$!
        wait_port "$SINKP" "$SINK_PID" || { echo "suite: sink did not start" >&2; exit 1; }
    fi
    PORT=$(free_port)
    write_config "$dir" "$dur" "$dest" "$comp" "$lv" "$lua"
    "$FIREHOSED" --config "$dir/config.json" >"$dir/firehosed.log" 2>&1 &
    FH_PID=$!
    if ! wait_port "$PORT" "$FH_PID"; then
        tail -n 20 "$dir/firehosed.log" >&2
        echo "suite: firehosed did not start for $name" >&2; exit 1
    fi
    for r in $(seq 1 "$RUNS"); do
        { echo 5 >"/proc/$FH_PID/clear_refs"; } 2>/dev/null
        if [ "$PERF" = "$name" ] && [ "$r" = "$RUNS" ]; then
            perf record -g -o "$TMP/perf.data" -p "$FH_PID" -- sleep "$DURATION" \
                >/dev/null 2>&1 &
            PERF_PID=$!
        fi
        c0=$(cpu_ticks)
        o=$("$BIN/loadgen" --url "http://127.0.0.1:$PORT/" --stream bench \
            --connections "$CONNS" --batch "$BATCH" --size "$size" \
            --duration "$DURATION" --json "${LG_EXTRA[@]}")
        c1=$(cpu_ticks)
        rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$FH_PID/status")
        rps+=("$(jget records_per_s "$o")"); mbs+=("$(jget mb_per_s "$o")")
        p50+=("$(jget p50_ms "$o")"); p99+=("$(jget p99_ms "$o")")
        p999+=("$(jget p999_ms "$o")"); rsss+=("$(calc '%.1f' "$rss / 1024")")
        cpu+=("$(calc '%.3f' "($c1 - $c0) / $TCK / (($(jget records_ok "$o") + 1) / 1e6)")")
    done
    if [ -n "$PERF_PID" ]; then wait "$PERF_PID" 2>/dev/null; PERF_PID=""; fi
    if [ "$PERF" = "$name" ] && [ -s "$TMP/perf.data" ]; then
        perf report -i "$TMP/perf.data" --no-children --stdio --percent-limit 1 \
            >"$RESULTS/perf-$name.txt" 2>/dev/null
        echo "  perf report: $RESULTS/perf-$name.txt"
    fi
    kill -TERM "$FH_PID"; wait "$FH_PID" 2>/dev/null; FH_PID=""
    if [ -n "$SINK_PID" ]; then
        kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null; SINK_PID=""
    fi
    local m_rps m_mbs m_p50 m_p99 m_p999 m_cpu m_rss
    m_rps=$(median "${rps[@]}"); MRPS[$name]=$m_rps; m_mbs=$(median "${mbs[@]}")
    m_p50=$(median "${p50[@]}"); m_p99=$(median "${p99[@]}"); MP99[$name]=$m_p99
    m_p999=$(median "${p999[@]}"); m_cpu=$(median "${cpu[@]}")
    m_rss=$(median "${rsss[@]}")
    case $kind in
    zlib*)  lim=${LIM[$kind.$size]}; lim_desc="zlib L${kind#zlib} MB/s"
            ratio=$(calc '%.2f' "$m_mbs / $lim") ;;
    noop)   lim=${LIM[noop.$size]}; lim_desc="noop HTTP rec/s"
            ratio=$(calc '%.2f' "$m_rps / $lim") ;;
    fsync)  lim=$(calc '%.3f' "2 * ${LIM[fsync_p99]} + 1"); lim_desc="p99 target ms"
            ratio=$(calc '%.2f' "$m_p99 / $lim") ;;
    esac
    ROWS+=("$(printf '%-12s %5s %4s %10.0f %8.1f %7.2f %7.2f %7.2f %6.2f %6.1f  %-16s %10s %6s' \
        "$name" "$dur" "$size" "$m_rps" "$m_mbs" "$m_p50" "$m_p99" "$m_p999" \
        "$m_cpu" "$m_rss" "$lim_desc" "$lim" "$ratio")")
    JROWS+=("$(printf '{"name":"%s","durability":"%s","destination":"%s","compression":"%s","level":%s,"lua":"%s","record_size":%s,"records_per_s":%s,"mb_per_s":%s,"p50_ms":%s,"p99_ms":%s,"p999_ms":%s,"cpu_s_per_M":%s,"peak_rss_mib":%s,"limit_kind":"%s","limit":%s,"ratio":%s,"runs_records_per_s":[%s]}' \
        "$name" "$dur" "$dest" "$comp" "$lv" "$lua" "$size" "$m_rps" "$m_mbs" \
        "$m_p50" "$m_p99" "$m_p999" "$m_cpu" "$m_rss" "$lim_desc" "$lim" "$ratio" \
        "$(IFS=,; echo "${rps[*]}")")")
    echo "  ${ROWS[-1]}"
}

echo "suite: pipelines (medians of $RUNS)"
#        name        durab  dest  comp          lvl lua           size limit
pipeline P1          fsync  local UNCOMPRESSED  6   ""            150  noop
pipeline P2-gz1      fsync  local GZIP          1   ""            150  zlib1
pipeline P2-gz6      fsync  local GZIP          6   ""            150  zlib6
pipeline P3-lua-id   fsync  local GZIP          1   identity.lua  150  zlib1
pipeline P3-lua-json fsync  local GZIP          1   json.lua      150  zlib1
pipeline P4          fsync  http  GZIP          6   identity.lua  150  noop
pipeline P5-os-150   os     local UNCOMPRESSED  6   ""            150  noop
pipeline P5-fs-4k    fsync  local UNCOMPRESSED  6   ""            4096 noop
pipeline P5-os-4k    os     local UNCOMPRESSED  6   ""            4096 noop
# Tiny records: the per-record bookkeeping, not the bytes, bounds memory
# (peak RSS against 64 MB + the 5 MB buffer, the issue's overload bound).
pipeline P6-tiny     fsync  local UNCOMPRESSED  6   ""            10   noop
pipeline P6-tiny-lua fsync  local GZIP          1   identity.lua  10   noop
# p99 ack latency at half P1's max throughput vs 2 x fdatasync p99 + 1 ms.
# That target takes the p99 of fdatasyncs of an idle file; under a steady
# append stream an acknowledgement waits for the rest of the sync in flight
# and then one more, and the slow syncs are the ones most appends land in.
# So the floor any group commit can reach at this rate is measured here
# too, on the same disk just before: fsync_bench --rate (one thread
# appending a batch's bytes at the request rate, one syncing back to back).
# BENCH_P5_RATE fixes the rate instead, to compare two builds at one load.
P5_RATE=${BENCH_P5_RATE:-$(calc '%.0f' "${MRPS[P1]:-200000} / 2")}
LG_EXTRA=(--rate "$P5_RATE")
if want P5-lat; then
    o=$("$BIN/fsync_bench" --dir "$TMP" --size $(( BATCH * 150 )) \
        --rate "$(calc '%.1f' "$P5_RATE / $BATCH")" --seconds "$DURATION" --json) ||
        { echo "suite: fsync_bench --rate failed" >&2; exit 1; }
    LIM[gc_p50]=$(jget ack_p50_ms "$o"); LIM[gc_p99]=$(jget ack_p99_ms "$o")
    printf '  group-commit floor at %s rec/s (%s appends/s): ack p50 %s ms p99 %s ms\n' \
        "$P5_RATE" "$(calc '%.0f' "$P5_RATE / $BATCH")" "${LIM[gc_p50]}" "${LIM[gc_p99]}"
fi
pipeline P5-lat      fsync  local UNCOMPRESSED  6   ""            150  fsync
# The same load with Durability os: what parsing, HTTP and scheduling on
# this machine add to an acknowledgement without any fdatasync.
pipeline P5-lat-os   os     local UNCOMPRESSED  6   ""            150  fsync
if want P5-lat; then
    ROWS+=("$(printf '%-12s p99 %.2f ms = %.2f x the group-commit floor p99 %s ms (Durability os at this rate: p99 %s ms)' \
        P5-lat "${MP99[P5-lat]}" "$(calc '%.4f' "${MP99[P5-lat]} / ${LIM[gc_p99]}")" "${LIM[gc_p99]}" \
        "${MP99[P5-lat-os]:-not run}")")
    echo "  ${ROWS[-1]}"
fi

{
    printf '{"timestamp":"%s","host":"%s","cpus":%s,"runs":%s,"duration_s":%s,' \
        "$STAMP" "$(hostname)" "$(nproc)" "$RUNS" "$DURATION"
    printf '"connections":%s,"batch":%s,"spool_mb":%s,"limits":{' "$CONNS" "$BATCH" "$SPOOL_MB"
    first=1
    for k in "${!LIM[@]}"; do
        printf '%s"%s":%s' "$([ $first = 1 ] || echo ,)" "$k" "${LIM[$k]}"; first=0
    done
    printf '},"pipelines":[%s]}\n' "$(IFS=,; echo "${JROWS[*]}")"
} >"$JSON"

echo
printf '%-12s %5s %4s %10s %8s %7s %7s %7s %6s %6s  %-16s %10s %6s\n' \
    pipeline durab size rec/s MB/s p50ms p99ms p99.9 cpuS/M rssMiB limit value ratio
printf '%s\n' "${ROWS[@]}"
echo "suite: results in $JSON"
