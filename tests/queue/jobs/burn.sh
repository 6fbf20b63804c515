#!/bin/sh
# Uses what it asked for: about 100 MB held while a CPU is kept busy for SECONDS (default 4).
exec python3 -c '
import sys, time
held = bytearray(100 * 2**20)
for i in range(0, len(held), 4096):
    held[i] = 1
end = time.time() + float(sys.argv[1])
while time.time() < end:
    pass
print("burnt", sys.argv[1])
' "${1:-4}"
