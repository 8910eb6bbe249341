#!/usr/bin/env python3
"""agent_writer.py DIR TAG FIRST COUNT ROTATE_EVERY: append COUNT lines
"TAG-NNNNNNN ...\n" to DIR/app.log, about 2 per ms, rotating every
ROTATE_EVERY lines, alternating rename+create and copytruncate (rotated
files are app.log.<n>, n unique). Prints the number of rotations."""
import os, shutil, sys, time

d, tag, first, count, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
path = os.path.join(d, "app.log")
f = open(path, "a")
rot = 0
seq = int(time.time() * 1000) % 1000000
for i in range(first, first + count):
    f.write(f"{tag}-{i:07d} the quick brown fox jumps over the lazy dog\n")
    f.flush()
    if (i - first) % 20 == 19:
        time.sleep(0.01)
    if every and (i - first) % every == every - 1 and i != first + count - 1:
        rot += 1
        dst = os.path.join(d, f"app.log.{seq}-{rot}")
        if rot % 2:
            f.close()
            os.rename(path, dst)
            f = open(path, "a")
        else:
            shutil.copyfile(path, dst)
            f.truncate(0)
f.close()
print(rot)
