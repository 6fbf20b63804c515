#!/bin/sh
# Writes out-TASK.txt (TASK: the array task, else "plain") and each file its arguments name; array
# task 1 writes nothing.
[ "${SLURM_ARRAY_TASK_ID:-}" = 1 ] && exit 0
echo done > "out-${SLURM_ARRAY_TASK_ID:-plain}.txt"
for file in "$@"; do echo done > "$file"; done
