#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs the Debian packages it needs,
# builds a virtualenv, starts a private SLURM cluster (with accounting) and an sshd on loopback,
# runs pytest, and stops everything it started. Extra arguments go to pytest.
#
# Most tests wait on the scheduler rather than on the CPU, so they run in parallel workers
# (JOBDECK_TEST_WORKERS, default 3); the few that stop a daemon of the shared cluster (marker
# `disruptive`) run alone afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/infra/cluster.sh install
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-pip >/dev/null
fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'

trap 'bash tests/infra/cluster.sh stop' EXIT
bash tests/infra/cluster.sh start
# shellcheck disable=SC1091
source "${JOBDECK_CLUSTER_STATE:-/tmp/jobdeck-cluster}/env.sh"
status=0
run() {  # pytest; the first failure's exit code is kept (5, no test selected, is not a failure)
    local code=0
    .venv/bin/pytest "$@" || code=$?
    if [[ $code != 0 && $code != 5 && $status == 0 ]]; then status=$code; fi
}
run -n "${JOBDECK_TEST_WORKERS:-3}" -m "not disruptive" "$@"
run -m disruptive "$@"
exit "$status"
