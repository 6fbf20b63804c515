"""A rendered array script submitted through the real sbatch: each task runs with its own arguments."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends.slurm.commands import (
    parse_sbatch,
    render_batch_script,
    sbatch_argv,
    sbatch_header,
    scontrol_argv,
)
from backends.slurm.parse import parse_scontrol, scontrol_fields
from monitor.log_patterns import resolve_pattern
from monitor.model import SubmitRequest, TaskSpec

pytestmark = pytest.mark.cluster

USER_SCRIPT = """#!/bin/sh
#SBATCH --time=5
# prints its task and arguments
printf 'task %s:' "$SLURM_ARRAY_TASK_ID"
for arg in "$@"; do printf ' <%s>' "$arg"; done
echo
"""


def test_array_tasks_run_with_their_own_arguments(cluster, tmp_path: Path):
    script = tmp_path / "show args.sh"
    script.write_text(USER_SCRIPT)
    script.chmod(0o755)
    request = SubmitRequest(
        session="test", name="round trip|x", tag=f"jobdeck-test-{uuid.uuid4().hex[:8]}", script=str(script),
        workdir=str(tmp_path), is_array=True, log=str(tmp_path / "log %A_%a.out"),
        tasks=(TaskSpec(1, ("one", "a b", f"$(touch {tmp_path}/canary)")),
               TaskSpec(3, ("three", "it's", f"`touch {tmp_path}/canary`"))),
    )  # fmt: skip
    argv = sbatch_argv(request)
    assert "--array=1,3" in argv
    batch_script = render_batch_script(request, sbatch_header(USER_SCRIPT))
    job_id = parse_sbatch(cluster.run(argv, stdin=batch_script))

    identity = (request.name, request.tag)
    finished = cluster.wait_finished(job_id, {f"{job_id}_1", f"{job_id}_3"})
    for task in request.tasks:
        obs = finished[f"{job_id}_{task.index}"]
        assert (obs.raw_state, obs.exit_code, obs.name, obs.tag) == ("COMPLETED", 0, *identity)
        log = resolve_pattern(
            request.log, job_id=obs.raw_id, array_job_id=job_id, task=task.index, name=obs.name
        )
        words = " ".join(f"<{arg}>" for arg in task.args)
        assert Path(log).read_text() == f"task {task.index}: {words}\n"
    assert not (tmp_path / "canary").exists()

    controller = cluster.run(scontrol_argv(job_id))
    assert {o.job_id: o.log_path for o in parse_scontrol(controller)} == {
        f"{job_id}_{i}": str(tmp_path / f"log {job_id}_{i}.out") for i in (1, 3)
    }
    assert {scontrol_fields(line)["TimeLimit"] for line in controller.splitlines()} == {"00:05:00"}
