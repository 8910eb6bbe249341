#!/usr/bin/env bash
# t_agent: firehosed-agent tails files into a real firehosed (SigV4 checked,
# local-directory streams) on 127.0.0.1.
#  A: a writer appends 3000 lines and rotates every 400 (rename + create and
#     copytruncate in turn); the agent is stopped (SIGTERM, must exit 0) and
#     restarted mid-stream; a glob matches a file created later (multi-line
#     records). Every line must arrive exactly once.
#  B: the same with kill -9 of the agent, a restart in polling mode, and
#     firehosed stopped for 4 s: every line must arrive (at least once).
#  C: --once on a fresh checkpoint ships a backfill and exits 0; a second
#     --once sends nothing again.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
AGENT=${FIREHOSED_AGENT:-$ROOT/firehosed-agent}
[ -x "$AGENT" ] || fail "$AGENT not built"

port=$(free_port)
logs=$T_TMP/logs; later=$T_TMP/later; back=$T_TMP/backfill
mkdir -p "$logs" "$later" "$back"
stream() {   # stream NAME DIR FORMAT
    printf '{ "DeliveryStreamName": "%s", "LocalDirectoryDestinationConfiguration": { "Path": "%s", "BufferingHints": { "SizeInMBs": 1, "IntervalInSeconds": 1 }, "CompressionFormat": "%s" } }' "$1" "$2" "$3"
}
cat >"$T_TMP/fh.json" <<JSON
{ "Service": { "Listen": "127.0.0.1:$port", "StateDirectory": "$T_TMP/state", "Durability": "os",
               "Credentials": [ { "AccessKeyId": "AKIDAGENTTEST", "SecretAccessKey": "agent-secret" } ] },
  "DeliveryStreams": [ $(stream logs "$T_TMP/out" UNCOMPRESSED), $(stream multi "$T_TMP/out-multi" GZIP),
                       $(stream back "$T_TMP/out-back" GZIP) ] }
JSON
cat >"$T_TMP/agent.json" <<JSON
{ "firehose.endpoint": "http://127.0.0.1:$port", "firehose.region": "us-east-1",
  "awsAccessKeyId": "AKIDAGENTTEST", "awsSecretAccessKey": "agent-secret",
  "checkpointFile": "$T_TMP/agent-state/checkpoints.json", "pollIntervalMillis": 300,
  "flows": [
    { "filePattern": "$logs/app.log*", "deliveryStream": "logs", "initialPosition": "START_OF_FILE",
      "maxBufferAgeMillis": 300, "maxBufferSizeRecords": 200 },
    { "filePattern": "$later/*.txt", "deliveryStream": "multi", "initialPosition": "START_OF_FILE",
      "multiLineStartPattern": "^\\\\d{4}-", "maxBufferAgeMillis": 300 } ] }
JSON
mkdir -p "$T_TMP/agent-state"
check "--check-config accepts the config" "$AGENT" --check-config "$T_TMP/agent.json"
start_firehosed "$T_TMP/fh.json" "$port" "$T_TMP/fh.log"

AG_LOG=$T_TMP/agent.log
T_FH_LOGS+=("$AG_LOG")
start_agent() {
    "$AGENT" --config "$T_TMP/agent.json" "$@" >>"$AG_LOG" 2>&1 </dev/null &
    AG_PID=$!
    track_pid "$AG_PID"
    sleep 0.3
    kill -0 "$AG_PID" 2>/dev/null || fail "agent exited at start"
}
checkout() { "$PY" "$IT_DIR/agent_check.py" "$@"; }

# ---- A: rotations, SIGTERM restart, a later glob match: exactly once
start_agent
"$PY" "$IT_DIR/agent_writer.py" "$logs" A 0 3000 400 >"$T_TMP/wA.out" &
wA=$!; track_pid $wA
sleep 1.2
t0=$SECONDS
stop_pid "$AG_PID" 15; rc=$?
assert_eq 0 "$rc" "agent exit status after SIGTERM"
log "agent stopped with SIGTERM mid-stream (exit 0 in $((SECONDS - t0)) s)"
sleep 0.5
start_agent
{ for i in $(seq 1 40); do
      printf '2024-01-%02d record %d\n  continued a %d\n  continued b %d\n' $((i % 28 + 1)) "$i" "$i" "$i"
  done; } >"$later/m.txt"
wait $wA || fail "writer A failed"
log "writer A done ($(cat "$T_TMP/wA.out") rotations)"
wait_for 40 checkout "$T_TMP/out" A 0 3000 >/dev/null 2>&1
rA=$(checkout "$T_TMP/out" A 0 3000) || fail "phase A: lines missing: $rA"
assert_eq 0 "$(printf '%s' "$rA" | jget '.duplicates')" "phase A duplicates ($rA)"
log "phase A: $rA"
multi_ok() {
    n=$(find "$T_TMP/out-multi" -type f ! -name '*.tmp-*' -exec zcat {} + 2>/dev/null | grep -c '^2024-')
    [ "$n" = 40 ]
}
wait_for 20 multi_ok || fail "multi-line flow: $(find "$T_TMP/out-multi" -type f -exec zcat {} + 2>/dev/null | grep -c '^2024-') of 40 records"
got=$(find "$T_TMP/out-multi" -type f ! -name '*.tmp-*' -exec zcat {} + | grep -c 'continued b')
assert_eq 40 "$got" "multi-line continuation lines delivered"

# ---- B: kill -9, polling restart, endpoint down and back: at least once
"$PY" "$IT_DIR/agent_writer.py" "$logs" B 0 2000 500 >"$T_TMP/wB.out" &
wB=$!; track_pid $wB
sleep 1
kill9 "$AG_PID"
log "agent killed with SIGKILL mid-stream"
start_agent --poll
wait $wB || fail "writer B failed"
log "writer B done ($(cat "$T_TMP/wB.out") rotations)"
stop_pid "$FH_PID" 15
log "firehosed stopped: the agent must retry"
"$PY" "$IT_DIR/agent_writer.py" "$logs" B 2000 1000 400 >"$T_TMP/wB2.out" ||
    fail "writer B (part 2) failed"
sleep 3
grep -q 'retrying' "$AG_LOG" || fail "agent did not report retries while the endpoint was down"
start_firehosed "$T_TMP/fh.json" "$port" "$T_TMP/fh.log" 30
wait_for 60 checkout "$T_TMP/out" B 0 3000 >/dev/null 2>&1
rB=$(checkout "$T_TMP/out" B 0 3000) || fail "phase B: lines missing: $rB"
log "phase B: $rB"
rA2=$(checkout "$T_TMP/out" A 0 3000) || fail "phase A lines lost later: $rA2"
assert_eq 0 "$(printf '%s' "$rA2" | jget '.duplicates')" "phase A duplicates after phase B ($rA2)"
t0=$SECONDS
stop_pid "$AG_PID" 15; rc=$?
assert_eq 0 "$rc" "agent exit status after SIGTERM (endpoint healthy)"

# ---- C: --once backfill, twice
"$PY" "$IT_DIR/agent_writer.py" "$back" C 0 1500 0 >/dev/null
sed -e "s#$logs/app.log\\*#$back/*.log#" -e 's#"logs"#"back"#' \
    -e "s#agent-state/checkpoints.json#agent-state/once.json#" "$T_TMP/agent.json" >"$T_TMP/once.json"
t0=$SECONDS
"$AGENT" --config "$T_TMP/once.json" --once >>"$AG_LOG" 2>&1 </dev/null; rc=$?
assert_eq 0 "$rc" "--once exit status"
"$AGENT" --config "$T_TMP/once.json" --once >>"$AG_LOG" 2>&1 </dev/null; rc=$?
assert_eq 0 "$rc" "second --once exit status"
wait_for 20 checkout "$T_TMP/out-back" C 0 1500 >/dev/null 2>&1
rC=$(checkout "$T_TMP/out-back" C 0 1500) || fail "--once: lines missing: $rC"
assert_eq 0 "$(printf '%s' "$rC" | jget '.duplicates')" "--once twice: duplicates ($rC)"
grep -q -- '--once: 0 records' "$AG_LOG" || fail "second --once sent records again"

# ---- bad input: a damaged checkpoint file is refused with advice
printf '{"version":1,"files":[{"filePattern":' >"$T_TMP/agent-state/once.json"
out=$("$AGENT" --config "$T_TMP/once.json" --once 2>&1); rc=$?
assert_eq 1 "$rc" "exit status with a damaged checkpoint"
assert_contains "move it away" "$out" "damaged checkpoint message"

result "A: $(printf '%s' "$rA" | jget '.present') lines exactly once across a SIGTERM restart and $(cat "$T_TMP/wA.out") rotations; B: $(printf '%s' "$rB" | jget '.duplicates') duplicates after kill -9 + endpoint outage"
log "ok"
