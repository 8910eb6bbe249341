#!/usr/bin/env bash
# t_formats: every CompressionFormat end to end. Records -> firehosed -> a
# local directory and s3rver, one stream per format and destination; each
# object is decoded by an independent tool or library and compared byte for
# byte with what was sent: gzip -dc; unzip -t / unzip -p (one entry, named
# by a UUID); python3-snappy for Snappy (its raw decompress for the blocks;
# the snappy-java stream framing is parsed here from its description:
# 16-byte header 0x82 SNAPPY 0x00 + BE int32 version 1 + BE int32
# compatible version 1, then [BE int32 length][raw snappy block]...) and
# python3-snappy's own hadoop_snappy StreamDecompressor for HADOOP_SNAPPY.
# Key extensions and S3 Content-Encoding per spec §4.4.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SYSPY=/usr/bin/python3      # Debian's, where python3-snappy is installed
"$SYSPY" -c 'import snappy, snappy.hadoop_snappy' 2>/dev/null ||
    fail "python3-snappy is missing (apt-get install python3-snappy; it is in PKGS_TEST)"
command -v unzip >/dev/null || fail "unzip is missing (apt-get install unzip; it is in PKGS_TEST)"

FORMATS="UNCOMPRESSED GZIP ZIP Snappy HADOOP_SNAPPY"
declare -A EXT=([UNCOMPRESSED]="" [GZIP]=.gz [ZIP]=.zip [Snappy]=.snappy [HADOOP_SNAPPY]=.snappy)
declare -A ENC=([UNCOMPRESSED]=null [GZIP]=gzip [ZIP]=zip [Snappy]=snappy-java [HADOOP_SNAPPY]=hadoop-snappy)

# fmt_stream NAME DEST_KEY DEST_MEMBER FORMAT
fmt_stream() {
    cat <<JSON
    { "DeliveryStreamName": "$1", "$2": { $3, "Prefix": "$1/",
        "BufferingHints": { "SizeInMBs": 5, "IntervalInSeconds": 1 }, "CompressionFormat": "$4" } }
JSON
}

start_s3rver "$T_TMP/s3" 0 test-bucket
streams=""
for f in $FORMATS; do
    l=$(echo "$f" | tr 'A-Z' 'a-z')
    streams+="${streams:+,}$(fmt_stream "l_$l" LocalDirectoryDestinationConfiguration "\"Path\": \"$T_TMP/out\"" "$f")"
    streams+=",$(fmt_stream "s_$l" ExtendedS3DestinationConfiguration "\"BucketARN\": \"arn:aws:s3:::test-bucket\"" "$f")"
done
port=$(free_port)
write_config "$T_TMP/cfg.json" "$port" "$T_TMP/state" "$S3_ENDPOINT" 1073741824 "[ $streams ]"
start_firehosed "$T_TMP/cfg.json" "$port"

# send STREAM SEED SENT: one PutRecordBatch of 300 records (0-5000 bytes,
# random and text mixed: several snappy and Hadoop blocks), bytes to SENT.
send() {
    "$PY" - "$FH_ENDPOINT" "$@" <<'PYEOF'
import base64, json, random, sys, urllib.request
ep, stream, seed, sent = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rnd = random.Random(seed)
recs, raw = [], b""
for i in range(300):
    n = rnd.randint(0, 5000)
    b = (b'{"i":%d,"s":"%s"}\n' % (i, b"x" * rnd.randint(0, 64))) * (n // 40) + rnd.randbytes(n % 200)
    raw += b
    recs.append({"Data": base64.b64encode(b).decode()})
body = json.dumps({"DeliveryStreamName": stream, "Records": recs}).encode()
rq = urllib.request.Request(ep + "/", data=body, method="POST", headers={
    "X-Amz-Target": "Firehose_20150804.PutRecordBatch", "Content-Type": "application/x-amz-json-1.1"})
with urllib.request.urlopen(rq, timeout=30) as r:
    out = json.load(r)
if out.get("FailedPutCount", 1) != 0:
    sys.exit("PutRecordBatch to %s failed: %s" % (stream, json.dumps(out)[:300]))
open(sent, "wb").write(raw)
PYEOF
}

# decode FORMAT FILE OUT: with tools that share no code with firehosed
decode() {
    case $1 in
    UNCOMPRESSED) cp "$2" "$3" ;;
    GZIP) gzip -dc <"$2" >"$3" ;;
    ZIP)
        unzip -tq "$2" >"$3.t" 2>&1 || { cat "$3.t" >&2; return 1; }
        [ "$(unzip -Z1 "$2" | wc -l)" = 1 ] || { echo "not one entry: $(unzip -Z1 "$2")" >&2; return 1; }
        [[ $(unzip -Z1 "$2") =~ ^$UUID_RE$ ]] || { echo "entry name not a UUID: $(unzip -Z1 "$2")" >&2; return 1; }
        unzip -p "$2" >"$3" ;;
    Snappy|HADOOP_SNAPPY) "$SYSPY" - "$@" <<'PYEOF' ;;
import struct, sys
import snappy
from snappy import hadoop_snappy
fmt, src, dst = sys.argv[1:4]
data = open(src, "rb").read()
out = []
if fmt == "Snappy":
    want = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    if data[:16] != want:
        sys.exit("bad snappy-java header: %r" % data[:16])
    off = 16
    while off < len(data):
        if len(data) - off < 4:
            sys.exit("truncated block length at %d" % off)
        (n,) = struct.unpack(">i", data[off:off + 4])
        off += 4
        if n <= 0 or off + n > len(data):
            sys.exit("bad block length %d at %d" % (n, off - 4))
        out.append(snappy.uncompress(data[off:off + n]))
        off += n
else:
    d = hadoop_snappy.StreamDecompressor()
    for i in range(0, len(data), 65536):
        out.append(d.decompress(data[i:i + 65536]))
    out.append(d.flush())
open(dst, "wb").write(b"".join(out))
PYEOF
    esac
}

seed=1
for f in $FORMATS; do
    l=$(echo "$f" | tr 'A-Z' 'a-z')
    for side in l s; do
        send "${side}_$l" $seed "$T_TMP/${side}_$l.sent" || fail "sending to ${side}_$l failed"
        seed=$((seed + 1))
    done
done
log "sent 300 records to each of 10 streams"

# one_object DIR: the single finished object file under DIR (none: fail)
one_object() {
    find "$1" -type f ! -name '*.tmp-*' ! -name '*._S3rver_metadata.json' ! -name '*.md5' 2>/dev/null
}
ready() { [ "$(one_object "$1" | wc -l)" = 1 ]; }

checked=""
for f in $FORMATS; do
    l=$(echo "$f" | tr 'A-Z' 'a-z')
    for side in l s; do
        s=${side}_$l
        if [ $side = l ]; then dir=$T_TMP/out/$s; else dir=$S3_DIR/test-bucket/$s; fi
        wait_for 20 ready "$dir" || fail "$s: expected one object under $dir, found: $(one_object "$dir")"
        sleep 0.2
        obj=$(one_object "$dir")
        key=${obj#"$dir/"}; key=${key%._S3rver_object}
        assert_match "^$HOUR_RE$s-1-[0-9-]{19}-$UUID_RE${EXT[$f]//./\\.}$" "$key" "$s object key"
        decode "$f" "$obj" "$T_TMP/$s.got" || fail "$s: $f object $key does not decode"
        cmp -s "$T_TMP/$s.got" "$T_TMP/$s.sent" ||
            fail "$s: decoded $f object differs from the records sent ($(stat -c %s "$T_TMP/$s.got") vs $(stat -c %s "$T_TMP/$s.sent") bytes)"
        if [ $side = s ]; then
            h=$("$AWS" --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket test-bucket --key "$s/$key" 2>&1) ||
                fail "head-object $s/$key: $h"
            enc=$(printf '%s' "$h" | jget '.ContentEncoding' || echo null)
            assert_eq "${ENC[$f]}" "$enc" "Content-Encoding of a $f object"
        fi
        checked+=" $s:$(stat -c %s "$obj")/$(stat -c %s "$T_TMP/$s.sent")"
    done
done
log "object/raw bytes:$checked"
result "5 formats x (local, s3rver) decoded byte for byte"
log "PASS"
