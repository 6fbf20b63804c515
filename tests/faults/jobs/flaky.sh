#!/bin/sh
# A fault-test job: flaky.sh OUT PERCENT SLEEP sleeps SLEEP seconds, then fails (exit 3) with a
# PERCENT chance, else writes OUT (its expected output).
out=$1 percent=$2 pause=$3
sleep "$pause"
roll=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
[ $((roll * 100 / 256)) -lt "$percent" ] && exit 3
mkdir -p "$(dirname "$out")" && echo "done" >"$out"
