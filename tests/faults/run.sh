#!/usr/bin/env bash
# The fault-injection and hostile-input suites ("nothing lost, nobody let in"), with the full
# 200-cycle kill -9 run, against the private cluster of tests/infra/cluster.sh (started by
# tests/run.sh, or by hand). The figures (cycles run, kills, faults, bad inputs tried, jobs lost,
# duplicate submissions) are printed at the end. Extra arguments go to pytest;
# JOBDECK_KILL_CYCLES and JOBDECK_KILL_SEED change the kill run.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
source "${JOBDECK_CLUSTER_STATE:-/tmp/jobdeck-cluster}/env.sh"
exec .venv/bin/pytest tests/faults tests/hostile "$@"
