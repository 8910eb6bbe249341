#!/usr/bin/env python3
"""Read back what firehosed delivered and check it.

Objects come from a local destination directory (--local DIR) or from the
data directory of s3rver (--s3rver DIR --bucket B: files
DIR/B/<key>._S3rver_object). Every object must be one gzip member holding
framed records  b"{" id b":" len b":" payload b"}\n"  (see js/fh.js).

Checks (each failure is printed, exit 1 if any):
  --key-re RE       every key matches RE (full match)
  --acked FILE      every id listed (one per line) was delivered >= once
  --sent FILE       FILE is the exact byte stream one producer sent, in
                    order: every record delivered with identical bytes,
                    within each object that producer's records are
                    consecutive and in order (so the objects, sorted,
                    reproduce FILE byte for byte). Repeatable.
  --no-dups         no record delivered twice
  --expect-count N  exactly N distinct records
Prints one JSON summary line on stdout.
"""
import argparse, gzip, json, os, re, sys, zlib
from collections import Counter, defaultdict

FRAME = re.compile(rb"\{([A-Za-z0-9_.]+-\d+):(\d+):")


def parse_records(buf, where, errors):
    out, i, n = [], 0, len(buf)
    while i < n:
        m = FRAME.match(buf, i)
        if not m:
            errors.append(f"{where}: garbage at offset {i}: {buf[i:i+40]!r}")
            return out
        ln = int(m.group(2))
        end = m.end() + ln
        if buf[end:end + 2] != b"}\n":
            errors.append(f"{where}: record {m.group(1).decode()} at offset {i} is truncated or corrupt")
            return out
        out.append((m.group(1).decode(), buf[i:end + 2]))
        i = end + 2
    return out


def gunzip_one_member(data, where, errors):
    d = zlib.decompressobj(wbits=31)
    try:
        raw = d.decompress(data) + d.flush()
    except zlib.error as e:
        errors.append(f"{where}: not valid gzip: {e}")
        return None
    if not d.eof:
        errors.append(f"{where}: gzip stream truncated")
        return None
    if d.unused_data:
        errors.append(f"{where}: {len(d.unused_data)} bytes after the first gzip member (expected exactly one member)")
        try:
            raw += gzip.decompress(d.unused_data)
        except Exception:
            pass
    return raw


KEY_TS = re.compile(r"-1-(\d{4})-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-[0-9a-fA-F-]{36}\.[a-z]+$")
HOUR_DIR = re.compile(r"(?:^|/)(\d{4})/(\d\d)/(\d\d)/(\d\d)/[^/]+$")


def check_key_time(key, errors):
    """The key's timestamp is a plausible UTC time (not in the future, not
    long ago), and a yyyy/MM/dd/HH/ prefix names the same hour (both come
    from the oldest record's arrival)."""
    import calendar, time
    m = KEY_TS.search(key)
    if not m:
        return
    y, mo, d, h, mi, s = (int(x) for x in m.groups())
    try:
        t = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except Exception:
        errors.append(f"{key}: bad timestamp in key")
        return
    now = time.time()
    if not (now - 7200 <= t <= now + 120):
        errors.append(f"{key}: key timestamp {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))} is not around now (UTC)")
    hd = HOUR_DIR.search(key)
    if hd and tuple(int(x) for x in hd.groups()) != (y, mo, d, h):
        errors.append(f"{key}: prefix hour and key timestamp disagree")


def list_objects(a):
    objs = []
    if a.local:
        for dp, _, fns in os.walk(a.local):
            for fn in fns:
                p = os.path.join(dp, fn)
                objs.append((os.path.relpath(p, a.local), p))
    else:
        base = os.path.join(a.s3rver, a.bucket)
        suf = "._S3rver_object"
        for dp, _, fns in os.walk(base):
            for fn in fns:
                p = os.path.join(dp, fn)
                if fn.endswith(suf):
                    objs.append((os.path.relpath(p, base)[:-len(suf)], p))
    return sorted(objs)


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--local")
    g.add_argument("--s3rver")
    ap.add_argument("--bucket", default="test-bucket")
    ap.add_argument("--key-re")
    ap.add_argument("--ignore-re", help="keys to skip (e.g. temp files), listed in the summary")
    ap.add_argument("--acked", action="append", default=[])
    ap.add_argument("--sent", action="append", default=[])
    ap.add_argument("--no-dups", action="store_true")
    ap.add_argument("--expect-count", type=int)
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    a = ap.parse_args()

    errors = []
    counts = Counter()
    by_obj = []          # (key, [(id, bytes)])
    rec_bytes = {}
    ignored = []
    bad_keys = []
    sizes = []          # uncompressed bytes per object
    key_re = re.compile(a.key_re) if a.key_re else None
    ign_re = re.compile(a.ignore_re) if a.ignore_re else None
    for key, path in list_objects(a):
        if ign_re and ign_re.search(key):
            ignored.append(key)
            continue
        if key_re and not key_re.fullmatch(key):
            bad_keys.append(key)
            errors.append(f"key does not match /{a.key_re}/: {key}")
        check_key_time(key, errors)
        with open(path, "rb") as f:
            data = f.read()
        raw = gunzip_one_member(data, key, errors)
        if raw is None:
            continue
        recs = parse_records(raw, key, errors)
        by_obj.append((key, recs))
        sizes.append(len(raw))
        for rid, b in recs:
            counts[rid] += 1
            if rid in rec_bytes and rec_bytes[rid] != b:
                errors.append(f"record {rid} delivered twice with different bytes")
            rec_bytes[rid] = b

    dups = sum(c - 1 for c in counts.values() if c > 1)
    if a.no_dups and dups:
        ex = [r for r, c in counts.items() if c > 1][:5]
        errors.append(f"{dups} duplicate deliveries (e.g. {ex})")

    acked_total = 0
    missing_total = 0
    for fn in a.acked:
        with open(fn) as f:
            ids = [l.strip() for l in f if l.strip()]
        acked_total += len(set(ids))
        missing = sorted(set(i for i in ids if i not in counts))
        missing_total += len(missing)
        if missing:
            errors.append(f"{len(missing)} of {len(set(ids))} acknowledged records from {os.path.basename(fn)} never delivered, e.g. {missing[:5]}")

    for fn in a.sent:
        with open(fn, "rb") as f:
            sent = parse_records(f.read(), fn, errors)
        if not sent:
            errors.append(f"{fn}: nothing sent?")
            continue
        tagp = sent[0][0].rsplit("-", 1)[0]
        index = {rid: i for i, (rid, _) in enumerate(sent)}
        seen = [0] * len(sent)
        for key, recs in by_obj:
            mine = [(rid, b) for rid, b in recs if rid.rsplit("-", 1)[0] == tagp]
            prev = None
            for rid, b in mine:
                i = index.get(rid)
                if i is None:
                    errors.append(f"{key}: record {rid} was never sent")
                    continue
                if b != sent[i][1]:
                    errors.append(f"{key}: record {rid} differs from what was sent ({len(b)} vs {len(sent[i][1])} bytes)")
                if prev is not None and i != prev + 1:
                    errors.append(f"{key}: record {rid} follows {sent[prev][0]} (order not preserved)")
                prev = i
                seen[i] += 1
        lost = [sent[i][0] for i, c in enumerate(seen) if c == 0]
        if lost:
            errors.append(f"{len(lost)} of {len(sent)} records sent by {tagp} never delivered, e.g. {lost[:5]}")

    if a.expect_count is not None and len(counts) != a.expect_count:
        errors.append(f"expected {a.expect_count} distinct records, found {len(counts)}")

    summary = {"objects": len(by_obj), "records": sum(counts.values()), "distinct": len(counts),
               "duplicates": dups, "acked": acked_total, "missing": missing_total,
               "sizes": sizes[:20], "ignored": ignored[:10], "bad_keys": len(bad_keys), "errors": len(errors)}
    print(json.dumps(summary))
    for e in errors[:40]:
        print("verify: " + e, file=sys.stderr)
    if len(errors) > 40:
        print(f"verify: ... and {len(errors) - 40} more", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
