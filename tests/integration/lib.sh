# lib.sh - helpers for the integration tests (sourced by each t_*.sh).
# Every wait is bounded; every process started here is recorded and killed
# by PID when the test exits (the EXIT/INT/TERM trap).

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$IT_DIR/../.." && pwd)
FIREHOSED=${FIREHOSED:-$ROOT/firehosed}
AWS=/usr/bin/aws                       # Debian awscli v2, never pip's v1 on PATH
PEERS=$ROOT/.cache/peers/node_modules
export NODE_PATH=$PEERS
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
export AWS_PAGER=""
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_FIREHOSE 2>/dev/null || true
PY=$(command -v python3)

# Object keys: <prefix><stream>-1-YYYY-MM-dd-HH-mm-ss-<uuid>.gz
UUID_RE='[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
HOUR_RE='[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2}/'
key_re() {  # key_re PREFIX_RE STREAM
    printf '%s%s-1-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-%s\\.gz' "$1" "$2" "$UUID_RE"
}

T_NAME=$(basename "$0" .sh)
T_PIDS=()
T_FH_LOGS=()
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fhit.$T_NAME.XXXXXX")

log()  { echo "[$T_NAME $(date +%H:%M:%S)] $*" >&2; }
result() { echo "RESULT: $*" >&2; }   # shown by run.sh on the test's line

# Print the end of every firehosed log this test wrote.
dump_logs() {
    local f
    for f in "${T_FH_LOGS[@]}"; do
        [ -s "$f" ] || continue
        echo "----- tail of $f -----" >&2
        tail -n "${LOG_TAIL:-40}" "$f" >&2
    done
}

fail() {
    T_FAILED=1
    echo "FAIL [$T_NAME]: $*" >&2
    dump_logs
    exit 1
}
check() {   # check DESCRIPTION CMD...: run CMD, fail with DESCRIPTION if non-zero
    local what=$1; shift
    "$@" || fail "$what"
}
assert_eq() {   # assert_eq EXPECTED ACTUAL WHAT
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_match() {   # assert_match ERE STRING WHAT
    [[ $2 =~ $1 ]] || fail "$3: '$2' does not match /$1/"
}
assert_header() {   # assert_header NAME VALUE_ERE HEADERS WHAT (name case-insensitive)
    printf '%s\n' "$3" | grep -qiE "^$1: *$2" || fail "$4: no '$1: $2' header in: $3"
}
assert_contains() {   # assert_contains NEEDLE HAYSTACK WHAT
    case "$2" in *"$1"*) ;; *) fail "$3: '$1' not found in: $(printf '%s' "$2" | head -c 600)";; esac
}

# is_child PID: PID is alive and still a child of this shell (so a PID that
# was reaped and reused by someone else is never signalled).
is_child() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    set -- $st
    [ "$2" = "$$" ]
}

cleanup() {
    local rc=$? pid n
    trap - EXIT INT TERM
    for pid in "${T_PIDS[@]}"; do is_child "$pid" && kill -TERM "$pid" 2>/dev/null; done
    for n in $(seq 1 30); do
        local alive=0
        for pid in "${T_PIDS[@]}"; do is_child "$pid" && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${T_PIDS[@]}"; do is_child "$pid" && kill -KILL "$pid" 2>/dev/null; done
    if [ $rc -eq 0 ] && [ $T_FAILED = 0 ] && [ -z "${KEEP_TMP:-}" ]; then
        rm -rf "$T_TMP"
    else
        echo "[$T_NAME] files kept in $T_TMP" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'echo "[$T_NAME] interrupted" >&2; dump_logs; exit 124' INT TERM

track_pid() { T_PIDS+=("$1"); }

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() {   # port_open PORT: 0 if something accepts on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {   # wait_port PORT [TIMEOUT_S]
    local deadline=$((SECONDS + ${2:-10}))
    while [ $SECONDS -lt $deadline ]; do
        port_open "$1" && return 0
        sleep 0.1
    done
    return 1
}

# wait_for TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    while [ $SECONDS -lt $deadline ]; do
        "$@" && return 0
        sleep 0.2
    done
    "$@"
}

# ---------------------------------------------------------------- s3rver
# _start_s3 IMPL DIR [PORT] [BUCKET]: sets S3_PORT, S3_PID, S3_DIR, S3_ENDPOINT
_start_s3() {
    local impl=$1 dir=$2 port=${3:-0} bucket=${4:-test-bucket}
    local out="$T_TMP/s3rver$impl.$RANDOM.out"
    mkdir -p "$dir"
    node "$IT_DIR/js/s3rver.js" "$impl" "$dir" "$port" "$bucket" >"$out" 2>&1 &
    S3_PID=$!
    track_pid "$S3_PID"
    S3_DIR=$dir
    local deadline=$((SECONDS + 20))
    S3_PORT=
    while [ $SECONDS -lt $deadline ]; do
        S3_PORT=$(sed -n 's/^PORT //p' "$out" | head -n1)
        [ -n "$S3_PORT" ] && break
        kill -0 "$S3_PID" 2>/dev/null || { cat "$out" >&2; fail "s3rver ($impl) exited at start"; }
        sleep 0.1
    done
    [ -n "$S3_PORT" ] || { cat "$out" >&2; fail "s3rver ($impl) did not start within 20 s"; }
    wait_port "$S3_PORT" 10 || fail "s3rver port $S3_PORT not accepting"
    S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    log "s3rver $impl pid $S3_PID on $S3_ENDPOINT (data $dir, bucket $bucket)"
}
start_s3rver()      { _start_s3 3 "$@"; }    # s3rver 3.7.1: only the key id is checked
start_s3rver_auth() { _start_s3 5 "$@"; }    # @20minutes/s3rver 5.0.0: checks SigV4 secrets

# ---------------------------------------------------------------- firehosed
# write_config FILE PORT STATE_DIR S3_ENDPOINT MAX_SPOOL STREAMS_JSON
write_config() {
    cat >"$1" <<JSON
{ "Service": { "Listen": "127.0.0.1:$2", "StateDirectory": "$3", "Durability": "fsync",
               "MaxSpoolBytesPerStream": $5, "Region": "us-east-1",
               "Endpoints": { "S3": "$4" } },
  "DeliveryStreams": $6 }
JSON
}
# local_stream NAME PATH [SIZE_MB] [INTERVAL_S]
local_stream() {
    cat <<JSON
    { "DeliveryStreamName": "$1", "DeliveryStreamType": "DirectPut",
      "LocalDirectoryDestinationConfiguration": { "Path": "$2", "Prefix": "", "ErrorOutputPrefix": "",
        "BufferingHints": { "SizeInMBs": ${3:-1}, "IntervalInSeconds": ${4:-1} }, "CompressionFormat": "GZIP" } }
JSON
}
# s3_stream NAME BUCKET PREFIX ERROR_PREFIX [SIZE_MB] [INTERVAL_S]
s3_stream() {
    cat <<JSON
    { "DeliveryStreamName": "$1", "DeliveryStreamType": "DirectPut",
      "ExtendedS3DestinationConfiguration": { "BucketARN": "arn:aws:s3:::$2",
        "Prefix": "$3", "ErrorOutputPrefix": "$4",
        "BufferingHints": { "SizeInMBs": ${5:-1}, "IntervalInSeconds": ${6:-1} }, "CompressionFormat": "GZIP" } }
JSON
}

health_code() {   # health_code PORT -> HTTP status of GET /health (000 if none)
    curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/health" 2>/dev/null || true
}

# start_firehosed CONFIG PORT [LOG] [TIMEOUT_S]: sets FH_PID, FH_LOG, FH_ENDPOINT
start_firehosed() {
    local cfg=$1 port=$2 logf=${3:-$T_TMP/firehosed.$RANDOM.log} timeout=${4:-20}
    [ -x "$FIREHOSED" ] || fail "$FIREHOSED not built"
    "$FIREHOSED" --config "$cfg" >>"$logf" 2>&1 </dev/null &
    FH_PID=$!
    FH_LOG=$logf
    FH_ENDPOINT="http://127.0.0.1:$port"
    track_pid "$FH_PID"
    T_FH_LOGS+=("$logf")
    local deadline=$((SECONDS + timeout)) code=
    while [ $SECONDS -lt $deadline ]; do
        code=$(health_code "$port")
        [ "$code" = 200 ] && break
        kill -0 "$FH_PID" 2>/dev/null || { wait "$FH_PID"; fail "firehosed exited at start (rc $?), log $logf"; }
        sleep 0.1
    done
    [ "$code" = 200 ] || fail "firehosed: GET /health gave '$code' for ${timeout}s"
    log "firehosed pid $FH_PID on $FH_ENDPOINT"
}

# stop_pid PID [TIMEOUT_S]: SIGTERM, wait, then SIGKILL. Returns the exit status
# (or 137 if it had to be killed).
stop_pid() {
    local pid=$1 deadline=$((SECONDS + ${2:-10}))
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
    while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 137
    fi
    wait "$pid" 2>/dev/null
}
kill9() { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }

# ---------------------------------------------------------------- API calls
# fh_call TARGET BODY [ENDPOINT]: POST via curl (SigV4 headers are not sent).
# Sets HTTP_CODE, BODY (response), HDRS (response headers), ERR_TYPE (__type).
fh_call() {
    local target=$1 body=$2 ep=${3:-$FH_ENDPOINT} out="$T_TMP/resp.$RANDOM"
    printf '%s' "$body" >"$out.req"
    HTTP_CODE=$(curl -s -m 10 -o "$out" -D "$out.h" -w '%{http_code}' -X POST "$ep/" \
        -H "X-Amz-Target: Firehose_20150804.$target" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        --data-binary "@$out.req" 2>/dev/null) || true
    BODY=$(cat "$out" 2>/dev/null)
    HDRS=$(tr -d '\r' <"$out.h" 2>/dev/null)
    rm -f "$out" "$out.h" "$out.req"
    ERR_TYPE=$(printf '%s' "$BODY" | jget '.__type' 2>/dev/null)
}

# jget EXPR < json: tiny JSON path ('.a.b[0].c', '| length') with python3.
jget() {
    "$PY" -c '
import json, re, sys
try:
    v = json.load(sys.stdin)
except Exception:
    sys.exit(1)
expr = sys.argv[1]
length = expr.endswith("|length")
expr = expr[:-7] if length else expr
for part in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", expr):
    try:
        v = v[part[0]] if part[0] else v[int(part[1])]
    except (KeyError, IndexError, TypeError):
        sys.exit(1)
if length:
    v = len(v)
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
' "$1"
}

aws_fh() {   # aws_fh SUBCOMMAND ARGS...: /usr/bin/aws firehose against FH_ENDPOINT
    "$AWS" --endpoint-url "$FH_ENDPOINT" --region us-east-1 --output json \
        --cli-connect-timeout 5 --cli-read-timeout 20 firehose "$@"
}

fhjs() { node "$IT_DIR/js/fh.js" "$@"; }
# For background use (node "$FHJS" load ... &) so that $! is node itself.
FHJS=$IT_DIR/js/fh.js
verify() { "$PY" "$IT_DIR/verify.py" "$@"; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# gen_records TAG FIRST COUNT SENT_FILE JSON_FILE: framed records with random
# binary payloads; appends their bytes to SENT_FILE and writes the awscli v2
# --records JSON (base64 Data) to JSON_FILE.
gen_records() {
    "$PY" - "$@" <<'PYEOF'
import base64, json, os, random, sys
tag, first, count, sent, js = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
recs = []
with open(sent, "ab") as f:
    for i in range(first, first + count):
        rid = f"{tag}-{i:07d}".encode()
        payload = os.urandom(random.randint(0, 300))
        b = b"{" + rid + b":" + str(len(payload)).encode() + b":" + payload + b"}\n"
        f.write(b)
        recs.append({"Data": base64.b64encode(b).decode()})
with open(js, "w") as f:
    json.dump(recs, f)
PYEOF
}

# ---------------------------------------------------------------- Kinesis
# start_kinesalite: sets KIN_PORT, KIN_PID, KIN_ENDPOINT. kinesalite binds
# every interface (it has no --host); the tests only use 127.0.0.1.
start_kinesalite() {
    KIN_PORT=$(free_port)
    "$PEERS/.bin/kinesalite" --port "$KIN_PORT" --createStreamMs 50 --deleteStreamMs 50 \
        --updateStreamMs 50 --shardLimit 200 >"$T_TMP/kinesalite.out" 2>&1 &
    KIN_PID=$!
    track_pid "$KIN_PID"
    wait_port "$KIN_PORT" 15 || { cat "$T_TMP/kinesalite.out" >&2; fail "kinesalite did not start"; }
    KIN_ENDPOINT="http://127.0.0.1:$KIN_PORT"
    log "kinesalite pid $KIN_PID on $KIN_ENDPOINT"
}
# start_dynalite [DIR]: sets DDB_PORT, DDB_PID, DDB_ENDPOINT. With DIR the
# tables live in LevelDB there (they survive a restart); a restart keeps
# the port when DDB_PORT is set.
start_dynalite() {
    DDB_PORT=${DDB_PORT:-$(free_port)}
    "$PEERS/.bin/dynalite" --host 127.0.0.1 --port "$DDB_PORT" --createTableMs 50 \
        --deleteTableMs 50 --updateTableMs 50 ${1:+--path "$1"} >>"$T_TMP/dynalite.out" 2>&1 &
    DDB_PID=$!
    track_pid "$DDB_PID"
    wait_port "$DDB_PORT" 15 || { cat "$T_TMP/dynalite.out" >&2; fail "dynalite did not start"; }
    DDB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
    log "dynalite pid $DDB_PID on $DDB_ENDPOINT"
}
kin() { node "$IT_DIR/js/kin.js" --endpoint "$KIN_ENDPOINT" "$@"; }
# ddb_lease_config FILE PORT N FAILOVER_MS: firehosed (worker wN, state
# and output in $T_TMP/stateN, outN) reading the kinesalite stream
# "clicks" from TRIM_HORIZON, its leases in dynalite's table "leases".
ddb_lease_config() {
    cat >"$1" <<JSON
{ "Service": { "Listen": "127.0.0.1:$2", "StateDirectory": "$T_TMP/state$3",
               "Endpoints": { "Kinesis": "$KIN_ENDPOINT", "DynamoDB": "$DDB_ENDPOINT" },
               "WorkerId": "w$3",
               "LeaseStore": { "Type": "dynamodb", "TableName": "leases", "FailoverTimeMillis": $4 } },
  "DeliveryStreams": [ $(kinesis_stream from-kinesis clicks "$T_TMP/out$3" TRIM_HORIZON) ] }
JSON
}
# kinesis_stream NAME KINESIS_STREAM OUT_DIR [START] [SCRIPT]: a
# KinesisStreamAsSource stream into a local directory, uncompressed.
kinesis_stream() {
    local proc=""
    [ -n "${5:-}" ] && proc=", \"ProcessingConfiguration\": { \"Enabled\": true, \"Processors\": [ { \"Type\": \"Lua\", \"Parameters\": [ { \"ParameterName\": \"ScriptName\", \"ParameterValue\": \"$5\" } ] } ] }"
    cat <<JSON
    { "DeliveryStreamName": "$1", "DeliveryStreamType": "KinesisStreamAsSource",
      "KinesisStreamSourceConfiguration": {
        "KinesisStreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/$2",
        "StartingPosition": "${4:-TRIM_HORIZON}", "IdleTimeBetweenReadsInMillis": 200 },
      "LocalDirectoryDestinationConfiguration": { "Path": "$3", "Prefix": "", "ErrorOutputPrefix": "err/",
        "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "UNCOMPRESSED"$proc } }
JSON
}
# delivered_ids DIR: every record id in the delivered objects (not the
# error output), one per line, duplicates kept.
delivered_ids() {
    find "$1" -type f ! -path '*/err/*' ! -name '.*' -print0 2>/dev/null |
        xargs -0 -r cat | awk '{print $1}'
}
