#!/usr/bin/env bash
# run.sh LOADGEN - benchmark ./firehosed with the Direct PUT load generator.
# Builds nothing (make bench does). Run from the repository root.
#
#   A  500 x 150-byte records per PutRecordBatch, 16 connections, fsync
#   C  the same with 1 connection (latency view), same fsync instance
#   B  as A with Durability "os" (a second firehosed instance)
#   M  as B with MetadataExtraction ({level: .level}, dynamic partitioning)
#   then xform_bench (next to LOADGEN): the Lua transform's cost per record
#   and dest_bench: HTTP endpoint (plain, GZIP) and OpenSearch records/s
#   and proc_bench: MetadataExtraction (path walk, libjq, strftime) and
#   JSON de-aggregation per record, next to no processing
#   then kinesis.sh: the Kinesis source against kinesalite (about 45 s)
#
# Each scenario runs BENCH_RUNS times (3) for BENCH_DURATION seconds (10);
# the medians are what to quote. After each scenario the script waits for
# delivery (bounded), and before stopping an instance it checks that the
# output holds exactly as many records as were acknowledged.
#
# Environment: BENCH_DURATION, BENCH_RUNS, BENCH_CONNECTIONS (16),
# BENCH_BATCH (500), BENCH_SIZE (150), BENCH_BUFFER_MB (5),
# BENCH_INTERVAL (10), BENCH_DRAIN_TIMEOUT (60 s per scenario),
# FIREHOSED (./firehosed), BENCH_KEEP=1 keeps the temp dir.
set -u -o pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: bash tests/bench/run.sh path/to/loadgen" >&2
    exit 2
fi
LOADGEN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FIREHOSED=${FIREHOSED:-./firehosed}
if [ ! -x "$FIREHOSED" ]; then
    echo "bench: $FIREHOSED not found (run make firehosed)" >&2
    exit 2
fi
FIREHOSED=$(cd "$(dirname "$FIREHOSED")" && pwd)/$(basename "$FIREHOSED")

DURATION=${BENCH_DURATION:-10}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
BATCH=${BENCH_BATCH:-500}
SIZE=${BENCH_SIZE:-150}
BUFFER_MB=${BENCH_BUFFER_MB:-5}
INTERVAL=${BENCH_INTERVAL:-10}
DRAIN_TIMEOUT=${BENCH_DRAIN_TIMEOUT:-60}
TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fh-bench.XXXXXX")
FH_PID=""
STATUS=0

cleanup() {
    if [ -n "$FH_PID" ] && kill -0 "$FH_PID" 2>/dev/null; then
        kill -KILL "$FH_PID" 2>/dev/null
        wait "$FH_PID" 2>/dev/null
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
die() { say "bench: $*" >&2; STATUS=1; exit 1; }

# ---- small helpers -------------------------------------------------------

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

health_ok() {   # GET /health over bash's /dev/tcp; 0 when it answers 200
    (
        exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
        printf '%s\r\n' 'GET /health HTTP/1.1' 'Host: 127.0.0.1' \
            'Connection: close' '' >&3
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == "HTTP/1."?" 200"* ]]
    ) 2>/dev/null
}

jget() {    # jget FIELD JSON: a top-level number from loadgen's --json line
    sed -n 's/.*"'"$1"'":\([-0-9.eE+]*\).*/\1/p' <<<"$2"
}

median() {  # median NUMBERS...
    printf '%s\n' "$@" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) print 0;
             else if (NR % 2) print a[(NR + 1) / 2];
             else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

calc() { awk "BEGIN { v = ($2); printf \"$1\", v }"; }

cpu_ticks() {   # utime + stime of firehosed, in clock ticks
    local s
    s=$(cat "/proc/$FH_PID/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    set -- $s
    echo $(( ${12} + ${13} ))
}

vm_hwm_kb() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$FH_PID/status" 2>/dev/null || echo 0
}

# ---- firehosed instances -------------------------------------------------

write_config() {    # write_config DIR DURABILITY [mx]
    local proc=""
    # mx: MetadataExtraction (a path-only jq query) with dynamic
    # partitioning on the loadgen's "level" field (4 partitions).
    [ "${3:-}" = mx ] && proc=',
        "DynamicPartitioningConfiguration": { "Enabled": true },
        "Prefix": "level=!{partitionKeyFromQuery:level}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "ProcessingConfiguration": { "Enabled": true, "Processors": [
          { "Type": "MetadataExtraction", "Parameters": [
            { "ParameterName": "MetadataExtractionQuery",
              "ParameterValue": "{level: .level}" },
            { "ParameterName": "JsonParsingEngine",
              "ParameterValue": "JQ-1.6" } ] } ] }'
    cat >"$1/config.json" <<EOF
{
  "Service": {
    "Listen": "127.0.0.1:$PORT",
    "StateDirectory": "$1/state",
    "Durability": "$2"
  },
  "DeliveryStreams": [
    {
      "DeliveryStreamName": "bench",
      "LocalDirectoryDestinationConfiguration": {
        "Path": "$1/out",
        "BufferingHints": { "SizeInMBs": $BUFFER_MB,
                            "IntervalInSeconds": $INTERVAL },
        "CompressionFormat": "GZIP"$proc
      }
    }
  ]
}
EOF
}

start_fh() {    # start_fh DIR DURABILITY [mx]
    mkdir -p "$1"
    PORT=$(free_port) || die "no free port"
    write_config "$1" "$2" "${3:-}"
    "$FIREHOSED" --config "$1/config.json" >"$1/firehosed.log" 2>&1 &
    FH_PID=$!
    for _ in $(seq 1 100); do
        health_ok && return 0
        kill -0 "$FH_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$1/firehosed.log" >&2
    die "firehosed did not become healthy within 10 s"
}

stop_fh() {     # SIGTERM, bounded wait; prints the exit status
    local rc
    kill -TERM "$FH_PID" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$FH_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$FH_PID" 2>/dev/null; then
        say "  ODD: firehosed still running 10 s after SIGTERM; SIGKILL"
        kill -KILL "$FH_PID" 2>/dev/null
        STATUS=1
    fi
    wait "$FH_PID" 2>/dev/null
    rc=$?
    if [ "$rc" != 0 ]; then
        say "  ODD: firehosed exited with status $rc"
        STATUS=1
    fi
    FH_PID=""
}

# ---- delivered-record counting (incremental: each object read once) ------

declare -A SEEN     # object path -> "mtime records"
DELIVERED=0         # newline-terminated records in finished .gz objects
ERROR_RECS=0        # of which in error-output objects (*failed* paths)
BAD_OBJECTS=0

count_output() {    # count_output OUTDIR
    local f t n
    while IFS= read -r -d ' ' t && IFS= read -r -d '' f; do
        [ -n "${SEEN[$f]:-}" ] && continue
        if ! n=$(gzip -dc -- "$f" | wc -l); then
            BAD_OBJECTS=$(( BAD_OBJECTS + 1 ))
            say "  ODD: cannot gunzip $f"
            n=0
        fi
        SEEN[$f]="$t $n"
        DELIVERED=$(( DELIVERED + n ))
        case $f in *failed*) ERROR_RECS=$(( ERROR_RECS + n )) ;; esac
    done < <(find "$1" -type f -name '*.gz' -printf '%T@ %p\0' 2>/dev/null)
}

# When (epoch seconds, from object mtimes) the output first held N records.
delivered_by() {    # delivered_by N
    printf '%s\n' "${SEEN[@]}" | sort -g |
        awk -v n="$1" '{ c += $2 } c >= n { print $1; found = 1; exit }
                       END { if (!found) print "" }'
}

# Wait until ACKED records are in OUTDIR, at most DRAIN_TIMEOUT seconds.
# Sets DRAIN_S (seconds waited) and NEAR_T (when all but the last, partial
# buffer was delivered: the tail waits for IntervalInSeconds, which says
# nothing about throughput); returns 1 on timeout.
drain() {   # drain OUTDIR ACKED
    local t0 now rc=1
    t0=$(date +%s.%N)
    while :; do
        count_output "$1"
        now=$(date +%s.%N)
        DRAIN_S=$(calc '%.1f' "$now - $t0")
        [ "$DELIVERED" -ge "$2" ] && { rc=0; break; }
        awk "BEGIN { exit !($now - $t0 >= $DRAIN_TIMEOUT) }" && break
        sleep 0.5
    done
    NEAR_T=$(delivered_by $(( $2 - BUFFER_MB * 1048576 / SIZE )))
    return $rc
}

# ---- one scenario --------------------------------------------------------

line() {    # line LABEL REC/S MB/S P50 P99 P99.9 MAX RSS CPU EXTRA
    printf '  %-12s %9.0f rec/s %7.2f MB/s  ms: p50 %6.2f p99 %6.2f' \
        "$1" "$2" "$3" "$4" "$5"
    printf ' p99.9 %6.2f max %6.2f  RSS %5.1f MiB  CPU %.2f s/M rec%s\n' \
        "$6" "$7" "$8" "$9" "${10}"
}

declare -A MED          # MED[A.rps] ...
ACKED=0                 # per instance
LOST_UNKNOWN=0          # per instance: records in requests with no answer

scenario() {    # scenario NAME DIR LOADGEN-ARGS...
    local name=$1 dir=$2 r out rc t0 t1 c0 c1 rss cpu_m ok lag sc_ok=0
    local -a rps mbs p50 p99 p999 mx rsss cpus fails errs
    shift 2
    t0=$(date +%s.%N)
    for r in $(seq 1 "$RUNS"); do
        { echo 5 >"/proc/$FH_PID/clear_refs"; } 2>/dev/null  # VmHWM = 0
        c0=$(cpu_ticks)
        out=$("$LOADGEN" --url "http://127.0.0.1:$PORT/" --stream bench \
              --batch "$BATCH" --size "$SIZE" --duration "$DURATION" \
              --json "$@")
        rc=$?
        c1=$(cpu_ticks)
        rss=$(vm_hwm_kb)
        if [ -z "$out" ]; then
            die "loadgen failed (status $rc) in scenario $name"
        fi
        [ "$rc" = 0 ] || say "  ODD: loadgen exit status $rc"
        ok=$(jget records_ok "$out")
        ACKED=$(( ACKED + ok ))
        sc_ok=$(( sc_ok + ok ))
        LOST_UNKNOWN=$(( LOST_UNKNOWN +
                         $(jget transport_errors "$out") * BATCH ))
        cpu_m=$(calc '%.2f' "$ok > 0 ? ($c1 - $c0) / $TCK / ($ok / 1e6) : 0")
        rps+=("$(jget records_per_s "$out")")
        mbs+=("$(jget mb_per_s "$out")")
        p50+=("$(jget p50_ms "$out")")
        p99+=("$(jget p99_ms "$out")")
        p999+=("$(jget p999_ms "$out")")
        mx+=("$(jget max_ms "$out")")
        rsss+=("$(calc '%.1f' "$rss / 1024")")
        cpus+=("$cpu_m")
        fails+=("$(jget records_failed "$out")")
        errs+=("$(jget errors "$out")")
        line "$name run $r:" "${rps[-1]}" "${mbs[-1]}" "${p50[-1]}" \
            "${p99[-1]}" "${p999[-1]}" "${mx[-1]}" "${rsss[-1]}" "$cpu_m" \
            "  failed ${fails[-1]} errors ${errs[-1]}"
        if [ "${errs[-1]}" != 0 ]; then
            say "    status counts:" \
                "$(sed -n 's/.*"status":\({[^}]*}\).*/\1/p' <<<"$out")"
        fi
    done
    t1=$(date +%s.%N)
    MED[$name.rps]=$(median "${rps[@]}")
    MED[$name.mbs]=$(median "${mbs[@]}")
    MED[$name.p50]=$(median "${p50[@]}")
    MED[$name.p99]=$(median "${p99[@]}")
    MED[$name.p999]=$(median "${p999[@]}")
    MED[$name.max]=$(median "${mx[@]}")
    MED[$name.rss]=$(median "${rsss[@]}")
    MED[$name.cpu]=$(median "${cpus[@]}")
    line "$name MEDIAN:" "${MED[$name.rps]}" "${MED[$name.mbs]}" \
        "${MED[$name.p50]}" "${MED[$name.p99]}" "${MED[$name.p999]}" \
        "${MED[$name.max]}" "${MED[$name.rss]}" "${MED[$name.cpu]}" ""
    # Delivery catch-up: how long after the load the output holds it all,
    # and the end-to-end delivered rate: the scenario's records over the
    # time from its start until only the last partial buffer was pending.
    drain "$dir/out" "$ACKED"
    rc=$?
    if [ -n "$NEAR_T" ]; then
        NEAR_T=$(calc '%.3f' "$NEAR_T > $t1 ? $NEAR_T : $t1")
        MED[$name.dmbs]=$(calc '%.2f' "$sc_ok * $SIZE / 1e6 / ($NEAR_T - $t0)")
        lag=$(calc '%.1f' "$NEAR_T - $t1 > 0.05 ? $NEAR_T - $t1 : 0")
        say "  $name end-to-end delivered" \
            "$(calc '%.0f' "$sc_ok / ($NEAR_T - $t0)") rec/s," \
            "${MED[$name.dmbs]} MB/s (backlog gone $lag s after the load)"
    else
        MED[$name.dmbs]=""
    fi
    if [ "$rc" = 0 ]; then
        say "  $name all acknowledged records delivered ${DRAIN_S} s" \
            "after the load"
    else
        say "  $name NOT drained after ${DRAIN_TIMEOUT} s: $DELIVERED of" \
            "$ACKED records in the output so far"
    fi
}

# Stop the instance and compare output with acknowledgements.
verify() {  # verify DIR
    local spool
    stop_fh
    count_output "$1/out"
    spool=$(du -sk "$1/state" 2>/dev/null | awk '{ print $1 }')
    say "  verify: acknowledged $ACKED, delivered $DELIVERED" \
        "(in error output $ERROR_RECS; spool dir ${spool:-0} KiB)"
    if [ "$DELIVERED" -eq "$ACKED" ] && [ "$BAD_OBJECTS" -eq 0 ]; then
        say "  verify: OK"
    elif [ "$DELIVERED" -gt "$ACKED" ] &&
         [ "$DELIVERED" -le $(( ACKED + LOST_UNKNOWN )) ]; then
        say "  verify: OK (the extra records come from requests whose" \
            "answer was lost)"
    else
        say "  verify: MISMATCH ($(( DELIVERED - ACKED )))"
        STATUS=1
    fi
}

new_instance() {    # new_instance DIR DURABILITY [mx]
    SEEN=()
    DELIVERED=0
    ERROR_RECS=0
    BAD_OBJECTS=0
    ACKED=0
    LOST_UNKNOWN=0
    start_fh "$1" "$2" "${3:-}"
    say "firehosed pid $FH_PID on 127.0.0.1:$PORT, Durability $2," \
        "GZIP, BufferingHints ${BUFFER_MB} MB / ${INTERVAL} s"
}

# ---- main ----------------------------------------------------------------

say "bench: $(nproc) CPUs, $TMP on" \
    "$(df -P -T "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 }'),"\
    "$RUNS x ${DURATION}s per scenario," \
    "$BATCH x ${SIZE}-byte records per PutRecordBatch"

new_instance "$TMP/fsync" fsync
say "A: $CONNS connections, Durability fsync"
scenario A "$TMP/fsync" --connections "$CONNS"
say "C: 1 connection, Durability fsync (latency view)"
scenario C "$TMP/fsync" --connections 1
verify "$TMP/fsync"

new_instance "$TMP/os" os
say "B: $CONNS connections, Durability os"
scenario B "$TMP/os" --connections "$CONNS"
verify "$TMP/os"

new_instance "$TMP/mx" os mx
say "M: as B with MetadataExtraction {level: .level} and dynamic partitioning"
scenario M "$TMP/mx" --connections "$CONNS"
verify "$TMP/mx"
[ "$ERROR_RECS" = 0 ] || { say "  ODD: M put $ERROR_RECS records in the error output"; STATUS=1; }

say "zlib baseline (one thread, same record bytes):"
ZOUT=$("$LOADGEN" --zlib-baseline --json --batch "$BATCH" --size "$SIZE") ||
    die "loadgen --zlib-baseline failed"
ZMBS=$(jget zlib_mb_per_s "$ZOUT")
say "  gzip ${ZMBS} MB/s (ratio $(jget zlib_ratio "$ZOUT"):1)," \
    "memcpy $(jget memcpy_mb_per_s "$ZOUT") MB/s," \
    "crc32 $(jget crc32_mb_per_s "$ZOUT") MB/s"

XFORM_BENCH=$(dirname "$LOADGEN")/xform_bench
if [ -x "$XFORM_BENCH" ]; then
    "$XFORM_BENCH" --batch "$BATCH" --size "$SIZE" || die "xform_bench failed"
fi

PROC_BENCH=$(dirname "$LOADGEN")/proc_bench
if [ -x "$PROC_BENCH" ]; then
    "$PROC_BENCH" --size "$SIZE" || die "proc_bench failed"
fi

DEST_BENCH=$(dirname "$LOADGEN")/dest_bench
if [ -x "$DEST_BENCH" ]; then
    "$DEST_BENCH" --size "$SIZE" || die "dest_bench failed"
fi

say "Kinesis source (kinesalite, 4 shards; tests/bench/kinesis.sh):"
bash "$(dirname "$0")/kinesis.sh" || die "kinesis bench failed"

say ""
say "SUMMARY (medians of $RUNS; MB = 1e6 bytes of decoded record payload)"
FMT='  %-2s %9s %7s %7s %7s %7s %7s %6s %8s %10s %7s\n'
# shellcheck disable=SC2059
printf "$FMT" "" "rec/s" "MB/s" "p50 ms" "p99 ms" "p99.9" "RSS MiB" \
    "CPU/M" "ingest/z" "deliv MB/s" "deliv/z"
FMT='  %-2s %9.0f %7.2f %7.2f %7.2f %7.2f %7s %6s %8s %10s %7s\n'
for s in A B C M; do
    d=${MED[$s.dmbs]}
    # shellcheck disable=SC2059
    printf "$FMT" \
        "$s" "${MED[$s.rps]}" "${MED[$s.mbs]}" "${MED[$s.p50]}" \
        "${MED[$s.p99]}" "${MED[$s.p999]}" "${MED[$s.rss]}" \
        "${MED[$s.cpu]}" "$(calc '%.2f' "${MED[$s.mbs]} / $ZMBS")" \
        "${d:-n/a}" "$( [ -n "$d" ] && calc '%.2f' "$d / $ZMBS" || echo n/a)"
done
say "  ingest/z = pipeline MB/s ÷ single-thread zlib MB/s ($ZMBS);" \
    "deliv = end-to-end delivered; CPU/M = CPU s per M records"
exit "$STATUS"
