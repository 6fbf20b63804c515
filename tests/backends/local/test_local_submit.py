"""Submitting to the local backend: exit codes, arrays, log patterns, literal arguments, refusals."""

from __future__ import annotations

import asyncio
import getpass
import re
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.local.backend import LocalBackend
from monitor.errors import BackendUnavailable, SchedulerRejected

ECHO_ARGS = "#!/bin/sh\nprintf '%s\\n' \"$@\"\n"
TRICKY = ("two words", 'it\'s "quoted"', "$(touch canary)", "`touch canary2`", "$HOME", "*", "")


async def test_success_runs_script_with_literal_arguments(
    backend, make_script, make_request, wait_for, workdir: Path
) -> None:
    result = await backend.submit(make_request(make_script(ECHO_ARGS), *TRICKY))
    assert result.task_ids == {None: result.job_id}

    done = await wait_for(backend, result.job_id, "COMPLETED", "FAILED")

    assert (done.raw_state, done.exit_code, done.signal) == ("COMPLETED", 0, None)
    assert done.name == "job" and done.tag == "tag-job" and done.source == "local"
    assert done.submit_time <= done.start_time <= done.end_time
    assert done.log_path == str(workdir / f"slurm-{result.job_id}.out")
    assert Path(done.log_path).read_text().split("\n")[:-1] == list(TRICKY)
    assert not (workdir / "canary").exists() and not (workdir / "canary2").exists()


async def test_non_zero_exit_is_failed_with_its_code(backend, make_script, make_request, wait_for) -> None:
    script = make_script("echo before\nexit 3\n", executable=False)  # run with /bin/sh

    result = await backend.submit(make_request(script))
    done = await wait_for(backend, result.job_id, "COMPLETED", "FAILED")

    assert (done.raw_state, done.exit_code, done.signal) == ("FAILED", 3, None)
    assert Path(done.log_path).read_text() == "before\n"


async def test_killed_by_signal_reports_the_signal(backend, make_script, make_request, wait_for) -> None:
    result = await backend.submit(make_request(make_script("#!/bin/sh\nkill -9 $$\n")))

    done = await wait_for(backend, result.job_id, "COMPLETED", "FAILED")

    assert (done.raw_state, done.exit_code, done.signal) == ("FAILED", None, 9)


async def test_script_that_cannot_be_executed_fails_with_the_reason(
    backend, make_script, make_request, wait_for
) -> None:
    script = make_script("#!/nonexistent/interpreter\n")

    result = await backend.submit(make_request(script))
    done = await wait_for(backend, result.job_id, "COMPLETED", "FAILED")

    assert (done.raw_state, done.exit_code, done.start_time) == ("FAILED", None, None)
    assert done.reason == f"cannot execute {script}: No such file or directory"


async def test_array_tasks_have_their_own_ids_states_and_logs(
    backend, make_script, make_request, wait_for, tmp_path: Path
) -> None:
    script = make_script('#!/bin/sh\necho "task $1"\ncase "$1" in 2|7) exit 4;; esac\n')
    indices = (0, 2, 5, 7, 9)
    log = str(tmp_path / "logs" / "%x-%A_%a.out")

    result = await backend.submit(make_request(script, indices=indices, name="sweep", log=log))
    base = result.job_id
    assert result.task_ids == {i: f"{base}_{i}" for i in indices}
    for task_id in result.task_ids.values():
        await wait_for(backend, task_id, "COMPLETED", "FAILED")
    report = await backend.poll([base], None)

    assert set(report.observations) == set(result.task_ids.values())
    for index, task_id in result.task_ids.items():
        seen = report.observations[task_id]
        assert (seen.raw_state, seen.exit_code) == (("FAILED", 4) if index in (2, 7) else ("COMPLETED", 0))
        assert seen.log_path == str(tmp_path / "logs" / f"sweep-{base}_{index}.out")
        assert Path(seen.log_path).read_text() == f"task {index}\n"


async def test_log_patterns_and_separate_stderr(
    backend, make_script, make_request, wait_for, tmp_path
) -> None:
    script = make_script("#!/bin/sh\necho out\necho err >&2\n")
    request = make_request(
        script, indices=(3,), name="pat", log=str(tmp_path / "%x.%j.%A.%a.%u.%N.%%.%q.log"), err="e-%j.err"
    )

    result = await backend.submit(request)
    done = await wait_for(backend, result.task_ids[3], "COMPLETED", "FAILED")

    base, user, host = result.job_id, getpass.getuser(), socket.gethostname().split(".")[0]
    assert done.log_path == str(tmp_path / f"pat.{base}_3.{base}.3.{user}.{host}.%.%q.log")
    assert Path(done.log_path).read_text() == "out\n"
    assert (Path(request.workdir) / f"e-{base}_3.err").read_text() == "err\n"  # relative: in the workdir


async def test_dry_run_text_runs_the_same_command(
    backend, make_script, make_request, wait_for, workdir: Path
) -> None:
    request = make_request(make_script(ECHO_ARGS), *TRICKY)

    (line,) = backend.describe_submit(request).splitlines()
    subprocess.run(["/bin/sh", "-c", line], check=True, timeout=10)
    result = await backend.submit(request)
    done = await wait_for(backend, result.job_id, "COMPLETED", "FAILED")

    assert (workdir / "slurm-<id>.out").read_text() == Path(done.log_path).read_text()
    assert backend.describe_submit(make_request(make_script(ECHO_ARGS), indices=(1, 4))).count("\n") == 1


async def test_missing_script_or_workdir_is_rejected_before_anything_runs(
    backend, make_request, make_script, state_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no such script.sh"
    with pytest.raises(SchedulerRejected, match=re.escape(str(missing))):
        await backend.submit(make_request(missing))

    request = make_request(make_script(ECHO_ARGS))
    with pytest.raises(SchedulerRejected, match="/nonexistent"):
        await backend.submit(replace(request, workdir="/nonexistent"))
    assert not (state_dir / "records").exists()


async def test_unknown_ids_are_absent_and_ignored(backend, make_script, make_request, wait_for) -> None:
    result = await backend.submit(make_request(make_script(ECHO_ARGS)))
    await wait_for(backend, result.job_id, "COMPLETED")

    report = await backend.poll(["999", "999_1", f"{result.job_id}_0"], None)
    await backend.cancel(["999"])

    assert report.observations == {}
    assert report.commands == (f"read {backend.state_dir}",)


async def test_ids_are_unique_across_backends_on_one_state_dir(
    state_dir: Path, make_script, make_request
) -> None:
    request = make_request(make_script("#!/bin/sh\n"))
    results = await asyncio.gather(*(LocalBackend("here", state_dir).submit(request) for _ in range(6)))

    assert sorted(int(r.job_id) for r in results) == list(range(1, 7))


async def test_corrupt_record_is_backend_unavailable_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "5.json").write_text('{"job_id": "5", "sta')

    with pytest.raises(BackendUnavailable, match=r"records/5\.json"):
        await LocalBackend("here", tmp_path).poll(["5"], None)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    args=st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")), max_size=4)
)
def test_any_arguments_arrive_literally(
    backend, make_script, make_request, wait_for, args: list[str]
) -> None:
    script = make_script('#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n', name="nul.sh")

    async def run() -> str:
        result = await backend.submit(make_request(script, *args))
        return (await wait_for(backend, result.job_id, "COMPLETED", "FAILED")).log_path

    log = Path(asyncio.run(run())).read_bytes().decode()
    assert log.split("\0")[:-1] == args
