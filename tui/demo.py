"""`jobdeck demo`: a session of a dozen short real processes on the local backend, so a new user
sees jobs succeed, fail, go PARTIAL, resume and restart without any cluster."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

DEMO_MANIFEST = """\
[session]
name = "{session}"
poll_interval = 1.0
validate_grace = 2.0

[clusters.laptop]
backend = "local"
max_parallel = 6

[defaults]
cluster = "laptop"
log = "logs/%x-%j.out"

[[jobs]]
name = "prepare"
script = "scripts/step.sh"
args = ["prepare", "2", "data/prepared.txt"]
outputs = ["data/prepared.txt"]

[[jobs]]
name = "train"
script = "scripts/train.sh"
args = ["--epochs", "25"]
outputs = ["models/model.bin"]

[[jobs]]
name = "flaky"
script = "scripts/flaky.sh"
args = ["--fail-first", "3"]

[[jobs]]
name = "sweep"
script = "scripts/sweep.sh"
array = "0-5"
args = ["--task", "{{task}}", "--skip-first", "4"]
outputs = ["results/sweep-{{task}}.csv"]
log = "logs/%x-%A_%a.out"

[[jobs]]
name = "evaluate"
script = "scripts/step.sh"
args = ["evaluate", "4", "results/eval.json"]
outputs = ["results/eval.json"]

[[jobs]]
name = "tail-me"
script = "scripts/chatty.sh"
args = ["90"]
"""

SCRIPTS = {
    "step.sh": """#!/bin/sh
# usage: step.sh NAME SECONDS OUTPUT
echo "$1: starting"
sleep "$2"
mkdir -p "$(dirname "$3")"
echo "$1 done at $(date)" > "$3"
echo "$1: wrote $3"
""",
    "train.sh": """#!/bin/sh
# usage: train.sh --epochs N
epochs=$2
loss=1000
i=1
while [ "$i" -le "$epochs" ]; do
    loss=$((loss * 9 / 10))
    echo "epoch $i/$epochs loss 0.$loss"
    sleep 1
    i=$((i + 1))
done
mkdir -p models
echo weights > models/model.bin
echo "saved models/model.bin"
""",
    "flaky.sh": """#!/bin/sh
# usage: flaky.sh --fail-first CODE  (fails the first time, succeeds when restarted)
if [ ! -e .flaky-tried ]; then
    touch .flaky-tried
    echo "flaky: the scratch disk is full (pretend); exiting $2" >&2
    exit "$2"
fi
echo "flaky: fine this time"
""",
    "sweep.sh": """#!/bin/sh
# usage: sweep.sh --task N --skip-first K  (task K forgets its output the first time)
task=$2
echo "sweep task $task: computing"
sleep $((task % 3 + 1))
if [ "$task" = "$4" ] && [ ! -e ".sweep-$task-tried" ]; then
    touch ".sweep-$task-tried"
    echo "sweep task $task: exiting 0 WITHOUT writing results/sweep-$task.csv"
    exit 0
fi
mkdir -p results
echo "task,$task" > "results/sweep-$task.csv"
echo "sweep task $task: wrote results/sweep-$task.csv"
""",
    "chatty.sh": """#!/bin/sh
# usage: chatty.sh SECONDS  (a slow job with a growing log)
end=$(( $(date +%s) + $1 ))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    echo "$(date +%H:%M:%S) line $n: still working"
    sleep 0.5
done
echo "done"
""",
}


def write_demo(folder: Path, session: str) -> Path:
    """Write the demo's scripts and manifest into `folder`; returns the manifest path."""
    scripts = {f"scripts/{name}": text for name, text in SCRIPTS.items()}
    return write_session_files(folder, "demo.toml", DEMO_MANIFEST.format(session=session), scripts)


def write_session_files(folder: Path, manifest_name: str, manifest: str, scripts: Mapping[str, str]) -> Path:
    """A session's files as a user would write them: the manifest and its scripts (executable),
    named relative to `folder`; returns the manifest's path. The demo's, the screenshots' and the
    tests' sessions are written so."""
    for name, text in scripts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    path = folder / manifest_name
    path.write_text(manifest)
    return path


def demo_folder(state_dir: Path) -> tuple[Path, str]:
    """A fresh folder and session name per run, so runs never disturb each other."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return state_dir / "demo" / stamp, f"demo-{stamp}"
