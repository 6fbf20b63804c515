#!/bin/sh
# An array task that exits 0 either way. It prints its arguments first, so its log shows them:
#   --task N         write out/N.txt in the working directory ...
#   --skip-once L    ... unless N is in the comma-separated list L and this is the task's first run:
#                    then leave a mark in .tried/ and write nothing (a resumed run writes its output)
echo "sweep_task.sh args: $*"
task="" skip=""
while [ $# -gt 0 ]; do
    case "$1" in
        --task) task=$2 ;;
        --skip-once) skip=$2 ;;
        *) echo "sweep_task.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
case ",$skip," in
    *",$task,"*)
        if [ ! -e ".tried/$task" ]; then
            mkdir -p .tried && : > ".tried/$task"
            exit 0
        fi ;;
esac
mkdir -p out && echo "task $task" > "out/$task.txt"
