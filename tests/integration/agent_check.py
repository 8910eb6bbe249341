#!/usr/bin/env python3
"""agent_check.py OUTDIR TAG FIRST COUNT: read every delivered object in
OUTDIR (UNCOMPRESSED or GZIP, final names only) and check the lines TAG-n
for n in [FIRST, FIRST+COUNT). Prints JSON {expected, present, missing,
duplicates, foreign}; exit 0 when none is missing."""
import gzip, json, os, re, sys

out, tag, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
seen = {}
bad = 0
for root, _, files in os.walk(out):
    for name in files:
        if ".tmp-" in name:
            continue
        p = os.path.join(root, name)
        data = open(p, "rb").read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for line in data.split(b"\n"):
            if not line.startswith(tag.encode() + b"-"):
                continue
            m = re.match(rb"[A-Za-z0-9]+-(\d{7}) the quick brown fox jumps over the lazy dog$", line)
            if not m:
                bad += 1
                continue
            n = int(m.group(1))
            seen[n] = seen.get(n, 0) + 1
want = range(first, first + count)
missing = [n for n in want if n not in seen]
dups = sum(c - 1 for n, c in seen.items() if n in want and c > 1)
foreign = [n for n in seen if n not in want]
print(json.dumps({"expected": count, "present": count - len(missing),
                  "missing": len(missing), "first_missing": missing[:5],
                  "duplicates": dups, "foreign": len(foreign), "garbled": bad}))
sys.exit(1 if missing or bad else 0)
