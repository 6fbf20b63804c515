#!/usr/bin/env bash
# requirements/venv.sh VENV LOCK [--editable]: a virtualenv holding exactly the lock file's versions
# (checked against their hashes) and jobdeck itself. A virtualenv made from another lock is made anew,
# so nothing from an earlier install stays behind.
set -euo pipefail
venv=${1:?usage: venv.sh VENV LOCK [--editable]}
lock=${2:?usage: venv.sh VENV LOCK [--editable]}
editable=()
[[ ${3:-} == --editable ]] && editable=(-e)
cd "$(dirname "$0")/.."

stamp=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ $(cat "$venv/.jobdeck-lock" 2>/dev/null) != "$stamp" ]]; then
    if [[ -e $venv && ! -f $venv/pyvenv.cfg ]]; then
        echo "requirements/venv.sh: $venv exists and is not a virtualenv; not replacing it" >&2
        exit 1
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --root-user-action=ignore --require-hashes -r "$lock"
    echo "$stamp" >"$venv/.jobdeck-lock"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --root-user-action=ignore --no-deps \
    --no-build-isolation "${editable[@]}" .
