#!/bin/sh
# Prints how many arguments it got and each in brackets, then exits with the first one.
code=$1
shift
echo "argc=$#"
for arg in "$@"; do echo "[$arg]"; done
exit "$code"
