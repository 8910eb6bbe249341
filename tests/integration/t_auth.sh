#!/usr/bin/env bash
# t_auth: SigV4-authenticated producers (aws CLI v2 and the JS SDK with the
# right key, a wrong secret, an unknown key, no signature at all), records
# signed in reach the destination, /health stays open; HTTPS with a
# self-signed certificate made here by openssl; a non-loopback Listen with no
# credentials refuses to start; the limits: a 1 GB Content-Length and an
# endless chunked body are refused without buffering, a slow-loris client is
# cut at RequestTimeoutSeconds, MaxConnections holds. Loopback only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

KEY=AKIAFHAUTHTEST01
SECRET='fh/Auth+Test+Secret/0123456789abcdefghij'
port=$(free_port)
out="$T_TMP/out"

# $1 file, $2 port, $3 extra Service JSON (after a comma)
auth_config() {
    cat >"$1" <<JSON
{ "Service": { "Listen": "127.0.0.1:$2", "StateDirectory": "$T_TMP/state-$2",
               "Credentials": [ { "AccessKeyId": "$KEY", "SecretAccessKey": "$SECRET" } ],
               "RequestTimeoutSeconds": 3, "MaxConnections": 8 $3 },
  "DeliveryStreams": [ $(local_stream ds1 "$out" 1 1) ] }
JSON
}
auth_config "$T_TMP/auth.json" "$port" ""
check "--check-config with Credentials" timeout 10 "$FIREHOSED" --check-config "$T_TMP/auth.json"
start_firehosed "$T_TMP/auth.json" "$port"
grep -q "SigV4 authentication required: 1 key" "$FH_LOG" || fail "start-up does not log the auth mode"

aws_as() {   # aws_as KEY SECRET ARGS...: aws CLI v2 firehose with those keys
    local k=$1 s=$2; shift 2
    AWS_ACCESS_KEY_ID=$k AWS_SECRET_ACCESS_KEY=$s aws_fh "$@"
}

# --- aws CLI v2 (SignedHeaders=content-type;host;x-amz-date;x-amz-target)
r=$(aws_as "$KEY" "$SECRET" put-record --delivery-stream-name ds1 \
    --record Data=$(printf 'cli-signed-1\n' | base64) 2>&1) || fail "aws CLI with the right key: $r"
assert_match '"RecordId": "[0-9a-f]{32}"' "$r" "aws CLI put-record"
r=$(aws_as "$KEY" "$SECRET" put-record-batch --delivery-stream-name ds1 \
    --records "[{\"Data\":\"$(printf 'cli-signed-2\n' | base64)\"}]" 2>&1) || fail "aws CLI batch: $r"
assert_contains '"FailedPutCount": 0' "$r" "aws CLI put-record-batch"
r=$(aws_as "$KEY" "$SECRET" list-delivery-streams 2>&1) || fail "aws CLI list: $r"
assert_contains '"ds1"' "$r" "aws CLI list-delivery-streams"

r=$(aws_as "$KEY" 'not-the-secret' put-record --delivery-stream-name ds1 --record Data=eA== 2>&1); rc=$?
[ $rc != 0 ] || fail "aws CLI with a wrong secret succeeded"
assert_contains "InvalidSignatureException" "$r" "aws CLI wrong secret"
assert_contains "signature we calculated does not match" "$r" "aws CLI wrong secret message"
r=$(aws_as AKIAUNKNOWNKEY00 "$SECRET" put-record --delivery-stream-name ds1 --record Data=eA== 2>&1); rc=$?
[ $rc != 0 ] || fail "aws CLI with an unknown key succeeded"
assert_contains "UnrecognizedClientException" "$r" "aws CLI unknown key"
r=$(AWS_SESSION_TOKEN=FQoGZXIvYXdzEXAMPLE aws_as "$KEY" "$SECRET" put-record --delivery-stream-name ds1 --record Data=eA== 2>&1); rc=$?
[ $rc != 0 ] || fail "a session token was accepted without AllowSessionTokens"
assert_contains "UnrecognizedClientException" "$r" "aws CLI session token"

# --- no signature: curl
fh_call PutRecord '{"DeliveryStreamName":"ds1","Record":{"Data":"eA=="}}'
assert_eq 400 "$HTTP_CODE" "unsigned PutRecord status"
assert_eq MissingAuthenticationTokenException "$ERR_TYPE" "unsigned PutRecord"
assert_header x-amzn-ErrorType MissingAuthenticationTokenException "$HDRS" "unsigned PutRecord"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST "$FH_ENDPOINT/" \
    -H 'X-Amz-Target: Firehose_20150804.PutRecord' -H 'X-Amz-Date: 20150830T123600Z' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=x/20150830/us-east-1/firehose/aws4_request' -d '{}')
assert_eq 400 "$code" "incomplete Authorization header"
assert_eq 200 "$(health_code "$port")" "GET /health without a signature"

# --- JS SDK v3 (lowercase headers, x-amz-content-sha256, 9 signed headers)
r=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET fhjs send --endpoint "$FH_ENDPOINT" \
    --stream ds1 --tag js --count 40 --batch 20 --sent "$T_TMP/js.sent" 2>&1) || fail "JS SDK with the right key: $r"
r=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=wrong fhjs send --endpoint "$FH_ENDPOINT" \
    --stream ds1 --tag jsbad --count 1 --single 2>&1); rc=$?
[ $rc != 0 ] || fail "JS SDK with a wrong secret succeeded"
assert_contains "InvalidSignatureException HTTP 400" "$r" "JS SDK wrong secret"

# What was signed in arrives; what was refused does not.
delivered() { find "$out" -name '*.gz' -exec zcat {} + 2>/dev/null; }
has_all() { local d; d=$(delivered); [[ $d == *cli-signed-1* && $d == *cli-signed-2* && $(grep -c '{js-' <<<"$d") -ge 40 ]]; }
wait_for 15 has_all || fail "signed records not all delivered"
if delivered | grep -q jsbad; then fail "a refused record was delivered"; fi

# --- limits: 1 GB Content-Length, chunked past 8 MiB, slow loris, MaxConnections
r=$("$PY" - "$port" "$FH_PID" <<'EOF'
import socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\n"
out = []
# 1 GB announced: 413 before the body is read.
r0 = rss(); t = time.time(); s = conn()
s.sendall(HEAD + b"Content-Length: 1000000000\r\n\r\n")
try:
    for _ in range(64):
        s.sendall(b"x" * 65536)
except OSError:
    pass
s.settimeout(5)
try:
    a = s.recv(200)
except OSError as e:
    a = b""
out.append("cl1g=%s,%.2fs,%dKB" % (a[9:12].decode() or "none", time.time() - t, rss() - r0))
s.close()
# Chunked, no length: cut at 8 MiB, nothing buffered past it.
r0 = rss(); t = time.time(); s = conn(); sent = 0
s.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
try:
    for _ in range(1024):                # up to 64 MiB
        s.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n"); sent += 65536
except OSError:
    pass
out.append("chunked=cut@%dMiB,%.2fs,%dKB" % (sent >> 20, time.time() - t, rss() - r0))
s.close()
# Slow loris: one byte every 0.2 s is cut at RequestTimeoutSeconds (3).
t = time.time(); s = conn(); msg = HEAD + b"Content-Length: 10\r\n\r\n0123456789"; i = 0; how = "none"
s.settimeout(0.2)
while time.time() - t < 15 and i < len(msg):
    try:
        s.send(msg[i:i + 1]); i += 1
        if s.recv(100) == b"":
            how = "eof"; break
    except socket.timeout:
        continue
    except OSError:
        how = "reset"; break
out.append("slowloris=%s@%.1fs" % (how, time.time() - t))
s.close()
# MaxConnections 8: a 9th waits while 8 are held, is served once they go.
held = [conn() for _ in range(8)]
time.sleep(0.3)
s = conn(); s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
s.settimeout(1)
try:
    a = s.recv(100); ninth = "served" if a else "closed"
except socket.timeout:
    ninth = "waiting"
for h in held:
    h.close()
s.settimeout(5)
try:
    a = s.recv(100) if ninth == "waiting" else b""
except OSError:
    a = b""
out.append("limit=%s,then-%s" % (ninth, a[9:12].decode() or "none"))
print(" ".join(out))
EOF
) || fail "limit probe failed: $r"
log "limits: $r"
assert_match 'cl1g=413,0\.[0-9]+s,-?[0-9]{1,4}KB' "$r" "1 GB Content-Length"
assert_match 'chunked=cut@(8|9|1[0-9])MiB' "$r" "chunked body past 8 MiB"
assert_match 'slowloris=(eof|reset)@[34]\.' "$r" "slow loris"
assert_match 'limit=waiting,then-200' "$r" "MaxConnections"
kill -0 "$FH_PID" || fail "firehosed died in the limit probes"
result "$r"
stop_pid "$FH_PID" 10 || fail "firehosed did not stop cleanly"

# --- HTTPS with a self-signed certificate
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T_TMP/key.pem" \
    -out "$T_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl could not make a certificate"
tport=$(free_port)
auth_config "$T_TMP/tls.json" "$tport" ", \"Tls\": { \"CertificateFile\": \"$T_TMP/cert.pem\", \"KeyFile\": \"$T_TMP/key.pem\" }"
"$FIREHOSED" --config "$T_TMP/tls.json" >"$T_TMP/tls.log" 2>&1 </dev/null &
FH_PID=$!; track_pid "$FH_PID"; T_FH_LOGS+=("$T_TMP/tls.log")
https_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 --cacert "$T_TMP/cert.pem" "https://127.0.0.1:$tport/health")" = 200 ]; }
wait_for 15 https_up || fail "HTTPS /health never answered"
grep -q "serving HTTPS" "$T_TMP/tls.log" || fail "HTTPS mode not logged"
r=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET "$AWS" --endpoint-url "https://127.0.0.1:$tport" \
    --ca-bundle "$T_TMP/cert.pem" --region us-east-1 --output json --cli-connect-timeout 5 \
    --cli-read-timeout 20 firehose put-record --delivery-stream-name ds1 --record Data=eA== 2>&1) \
    || fail "aws CLI over HTTPS: $r"
assert_match '"RecordId"' "$r" "aws CLI over HTTPS"
r=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=wrong "$AWS" --endpoint-url "https://127.0.0.1:$tport" \
    --no-verify-ssl --region us-east-1 --output json --cli-connect-timeout 5 \
    firehose put-record --delivery-stream-name ds1 --record Data=eA== 2>&1); rc=$?
[ $rc != 0 ] || fail "wrong secret accepted over HTTPS"
assert_contains "InvalidSignatureException" "$r" "HTTPS wrong secret"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 3 "http://127.0.0.1:$tport/health")
[ "$code" != 200 ] || fail "plain HTTP answered on the HTTPS port"
stop_pid "$FH_PID" 10 || fail "HTTPS firehosed did not stop cleanly"

# --- no credentials on a non-loopback address: refuse to start (binds nothing)
cat >"$T_TMP/open.json" <<JSON
{ "Service": { "Listen": "0.0.0.0:$(free_port)", "StateDirectory": "$T_TMP/state-open" },
  "DeliveryStreams": [ $(local_stream ds1 "$out" 1 1) ] }
JSON
r=$(timeout 10 "$FIREHOSED" --config "$T_TMP/open.json" 2>&1 </dev/null); rc=$?
assert_eq 1 "$rc" "non-loopback Listen without credentials: exit status ($r)"
assert_contains "is not a loopback address" "$r" "non-loopback refusal message"
assert_contains "AllowUnauthenticated" "$r" "non-loopback refusal names the way out"

# Contradictory or broken auth settings are config errors.
cat >"$T_TMP/bad.json" <<JSON
{ "Service": { "Credentials": [ { "AccessKeyId": "A/B", "SecretAccessKey": "" } ],
               "CredentialsFile": "/x", "AllowUnauthenticated": true, "Tls": { "KeyFile": "/k" } },
  "DeliveryStreams": [ $(local_stream ds1 "$out" 1 1) ] }
JSON
r=$(timeout 10 "$FIREHOSED" --check-config "$T_TMP/bad.json" 2>&1); rc=$?
assert_eq 1 "$rc" "bad auth config exit status"
for w in "Credentials[0].AccessKeyId" "Credentials[0].SecretAccessKey" "not both" \
         "AllowUnauthenticated can't be true" "Tls.CertificateFile: missing"; do
    assert_contains "$w" "$r" "bad auth config"
done
log "ok"
