#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs the Debian packages it needs,
# builds a virtualenv, starts a private SLURM cluster (with accounting) and an sshd on loopback, and a
# private Kubernetes control plane (tests/infra/k8s.sh: built on the first run), runs pytest, and
# stops everything it started. Extra arguments go to pytest.
#
# The virtualenv holds exactly the versions of requirements/test.txt. `tests/run.sh --latest` runs the
# suite instead on the newest releases pyproject.toml allows (in .venv-latest) and, when it passes,
# locks them in requirements/.
#
# Most tests wait on the scheduler rather than on the CPU, so they run in parallel workers
# (JOBDECK_TEST_WORKERS, default 3); the few that stop a daemon of the shared cluster (marker
# `disruptive`) run alone afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/infra/cluster.sh install
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-pip 2>&1) ||
        { printf '%s\n' "$out" >&2; exit 1; }
fi
venv=.venv
lock=requirements/test.txt
latest=
if [[ ${1:-} == --latest ]]; then  # the newest releases pyproject.toml allows, in a virtualenv of their own
    shift
    latest=$(mktemp -d)
    bash requirements/lock.sh --upgrade --into "$latest"
    venv=.venv-latest
    lock=$latest/test.txt
fi

bash requirements/venv.sh "$venv" "$lock" --editable

finish() {  # stop the clusters, and fail the run if any of their daemons outlived the stop
    local code=$?
    bash tests/infra/k8s.sh stop
    bash tests/infra/k8s.sh check-stopped || code=1
    bash tests/infra/cluster.sh stop
    bash tests/infra/cluster.sh check-stopped || code=1
    exit "$code"
}
trap finish EXIT
bash tests/infra/cluster.sh start
JOBDECK_K8S_PYTHON=$venv/bin/python bash tests/infra/k8s.sh start
# shellcheck disable=SC1091
source "${JOBDECK_CLUSTER_STATE:-/tmp/jobdeck-cluster}/env.sh"
# shellcheck disable=SC1091
source "${JOBDECK_K8S_STATE:-/tmp/jobdeck-k8s}/env.sh"
status=0
"$venv/bin/mypy" || status=$?  # the type checker, as [tool.mypy] in pyproject.toml says (strict on monitor/ and store/)
run() {  # pytest; the first failure's exit code is kept (5, no test selected, is not a failure)
    local code=0
    "$venv/bin/pytest" "$@" || code=$?
    if [[ $code != 0 && $code != 5 && $status == 0 ]]; then status=$code; fi
}
run -n "${JOBDECK_TEST_WORKERS:-3}" -m "not disruptive" "$@"
run -m disruptive "$@"
if [[ -n $latest && $status == 0 ]]; then
    cp "$latest/runtime.txt" "$latest/test.txt" requirements/
    echo "The suite passed on the newest releases allowed; requirements/ now locks them (see git diff requirements/)."
fi
exit "$status"
