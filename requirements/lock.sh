#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml's ranges: requirements/runtime.txt (what `./install.sh`
# installs) and requirements/test.txt (what `tests/run.sh` installs), exact versions with hashes, for
# every platform, Python 3.11 and later. Pins that still satisfy pyproject.toml are kept; --upgrade moves
# every pin to the newest release allowed. --into DIR writes the two files there instead.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
upgrade=()
into=requirements
while (($#)); do
    case $1 in
        --upgrade) upgrade=(--upgrade) ;;
        --into) into=${2:?--into needs a folder}; shift ;;
        *) echo "usage: $0 [--upgrade] [--into DIR]" >&2; exit 2 ;;
    esac
    shift
done

tools=${XDG_CACHE_HOME:-$HOME/.cache}/jobdeck/uv-$UV_VERSION
if [[ ! -x $tools/bin/uv ]]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check --root-user-action=ignore "uv==$UV_VERSION"
fi

mkdir -p "$into"
for lock in runtime test; do
    extra=()
    [[ $lock == test ]] && extra=(--extra test)
    "$tools/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "bash requirements/lock.sh" "${upgrade[@]}" "${extra[@]}" \
        pyproject.toml requirements/build.in -o "$into/$lock.txt"
done
