#!/bin/sh
# A job for the re-attach scenarios. Prints its arguments first (so its log shows what it ran with),
# then, in this order:
#   --sleep S      sleep S seconds
#   --touch FILE   create FILE (relative to the working directory, folders included)
#   --code N       exit with N (default 0)
echo "act.sh args: $*"
pause=0 file="" code=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sleep) pause=$2 ;;
        --touch) file=$2 ;;
        --code) code=$2 ;;
        *) echo "act.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
sleep "$pause"
if [ -n "$file" ]; then
    mkdir -p "$(dirname "$file")" && echo "made by act.sh" > "$file"
fi
exit "$code"
