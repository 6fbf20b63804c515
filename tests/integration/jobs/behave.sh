#!/bin/sh
# A test job that prints its arguments (so its log shows them), then does what they say:
#   --sleep S         sleep S seconds first
#   --task N          write out/N.txt in the working directory ...
#   --fail-tasks L    ... unless N is in the comma-separated list L: then exit 10+N instead
#   --code N          exit with N (default 0)
echo "behave.sh args: $*"
code=0 task="" fail="" pause=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sleep) pause=$2 ;;
        --task) task=$2 ;;
        --fail-tasks) fail=$2 ;;
        --code) code=$2 ;;
        *) echo "behave.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ "$pause" = 0 ] || sleep "$pause"
if [ -n "$task" ]; then
    case ",$fail," in *",$task,"*) exit $((10 + task)) ;; esac
    mkdir -p out && echo "task $task" > "out/$task.txt"
fi
exit "$code"
