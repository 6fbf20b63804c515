#!/usr/bin/env bash
# Install jobdeck into its own virtualenv and put the `jobdeck` command on PATH.
# As root: /opt/jobdeck and /usr/local/bin; otherwise ~/.local/share/jobdeck and ~/.local/bin.
set -euo pipefail
cd "$(dirname "$0")"

if [[ $(id -u) == 0 ]]; then
    prefix=${JOBDECK_PREFIX:-/opt/jobdeck}
    bindir=/usr/local/bin
else
    prefix=${JOBDECK_PREFIX:-$HOME/.local/share/jobdeck}
    bindir=$HOME/.local/bin
fi

if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        out=$({ apt-get update -q && apt-get install -y -q python3 python3-venv python3-pip; } 2>&1) ||
            { printf '%s\n' "$out" >&2; exit 1; }
    else
        echo "install.sh: needs Python >= 3.11 with the venv module (Debian: apt install python3-venv)" >&2
        exit 1
    fi
fi

bash requirements/venv.sh "$prefix" requirements/runtime.txt
mkdir -p "$bindir"
ln -sf "$prefix/bin/jobdeck" "$bindir/jobdeck"
echo "jobdeck installed in $prefix; command: $bindir/jobdeck"
