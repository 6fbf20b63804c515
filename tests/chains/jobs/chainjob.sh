#!/bin/sh
# A job for the chain tests. Prints its arguments (so its log shows what it ran with), then does
# what they say, in order:
#   --period P N             print "period P of N"
#   --sleep S                sleep S seconds
#   --skip-once-if A B MARK  if A = B and MARK does not exist yet: create MARK, write nothing after this
#   --write FILE             write FILE (folders included)
#   --exit N                 exit N at once
echo "chainjob.sh args: $*"
skip=""
while [ $# -gt 0 ]; do
    case "$1" in
        --period) echo "period $2 of $3"; shift 3 ;;
        --sleep) sleep "$2"; shift 2 ;;
        --skip-once-if)
            if [ "$2" = "$3" ] && [ ! -e "$4" ]; then
                : > "$4" && skip=1 && echo "exiting 0 without the outputs that follow (once)"
            fi
            shift 4 ;;
        --write)
            [ -n "$skip" ] || { mkdir -p "$(dirname "$2")" && echo "made by chainjob.sh" > "$2"; }
            shift 2 ;;
        --exit) exit "$2" ;;
        *) echo "chainjob.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
exit 0
